#ifndef SWITCHYARD_CPCAP_SHIM_H
#define SWITCHYARD_CPCAP_SHIM_H
#include <pcap/pcap.h>

/* A hint to bring the cache line at `address` in ahead of its use (CaptureInput's mapped
 * mode: a --jobs worker that skips other workers' packets reads one record header per packet,
 * a chain of dependent loads that the hardware prefetcher does not follow). Swift has no
 * prefetch of its own. */
static inline void switchyard_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#ifdef __linux__
/* Privilege drop after a live capture is opened (Sources/PacketCapture/PrivilegeDrop.swift, the
 * only caller). Swift's Glibc module leaves these out: setresuid(2) and friends need _GNU_SOURCE,
 * prctl(2) is variadic, and glibc declares no capget/capset (they are libcap's header). glibc
 * exports all of them; the set*id wrappers apply the change to every thread of the process. */
#include <sys/types.h>
#include <sys/prctl.h>
#include <linux/capability.h>

extern int setresuid(uid_t ruid, uid_t euid, uid_t suid);
extern int setresgid(gid_t rgid, gid_t egid, gid_t sgid);
extern int getresuid(uid_t *ruid, uid_t *euid, uid_t *suid);
extern int getresgid(gid_t *rgid, gid_t *egid, gid_t *sgid);
extern int capget(cap_user_header_t header, cap_user_data_t data);
extern int capset(cap_user_header_t header, const cap_user_data_t data);

static inline int switchyard_prctl(int option, unsigned long arg2, unsigned long arg3,
                                   unsigned long arg4, unsigned long arg5) {
    return prctl(option, arg2, arg3, arg4, arg5);
}
#endif

#endif
