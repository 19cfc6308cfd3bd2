import CPcap
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The account `switchyard live` switches to after opening the capture: a name from the
/// password database with its uid and primary gid.
public struct PrivilegeUser: Sendable, Equatable {
    public var name: String
    public var uid: UInt32
    public var gid: UInt32

    public init(name: String, uid: UInt32, gid: UInt32) {
        self.name = name
        self.uid = uid
        self.gid = gid
    }
}

/// What `PrivilegeDrop.apply` will do, decided before anything is opened so that a bad
/// `-Z USER` is a usage error and not a half-started capture.
public enum PrivilegeDropPlan: Sendable, Equatable {
    /// `--no-drop` or `-Z root`: keep whatever the process holds (the caller warns).
    case keep
    /// Started as a user other than root (with file capabilities, `setcap … =eip`): keep the
    /// uid, drop every capability.
    case capabilitiesOnly
    /// Started as root: switch to this user, clear the supplementary groups, drop every
    /// capability.
    case switchUser(PrivilegeUser)
}

/// Why the privileges could not be dropped. `description` is the one line for stderr.
public struct PrivilegeDropError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { "cannot drop privileges: \(message)" }
}

/// The process's credentials as the kernel holds them for the calling thread
/// (`/proc/PID/status` shows the same numbers).
public struct PrivilegeState: Sendable {
    public var uids: (real: UInt32, effective: UInt32, saved: UInt32)
    public var gids: (real: UInt32, effective: UInt32, saved: UInt32)
    public var supplementaryGroups: Int
    /// Capability sets as 64-bit masks, bit n = capability n (capabilities(7)).
    public var effective: UInt64
    public var permitted: UInt64
    public var inheritable: UInt64
    public var ambient: UInt64
    public var bounding: UInt64
    public var noNewPrivileges: Bool
}

/// Dropping root and capabilities once a live capture is open (issue #20), the way tcpdump's
/// `-Z` does: the parsers then read hostile traffic without any privilege. Every system call
/// that changes credentials is made here and nowhere else.
///
/// A packet socket checks `CAP_NET_RAW` when it is created (packet(7)), not on each read, so
/// the activated libpcap handle keeps working; the `--write` and `-o` files stay open. The
/// order follows capabilities(7) and setresuid(2):
///
/// 1. The process must be single-threaded: capabilities, the bounding and ambient sets and
///    `no_new_privs` belong to each thread, and `capset(2)` changes only the caller.
/// 2. `PR_SET_KEEPCAPS` off, so the uid change below clears the permitted and effective sets
///    ("Effect of user ID changes on capabilities", capabilities(7)).
/// 3. The bounding set is emptied (`PR_CAPBSET_DROP`, needs `CAP_SETPCAP`: as root it is held;
///    started with file capabilities it is not, and `no_new_privs` below covers the same ground,
///    since neither file capabilities nor set-user-ID bits then grant anything on execve(2)).
/// 4. The ambient set is cleared (`PR_CAP_AMBIENT_CLEAR_ALL`).
/// 5. As root: `setgroups(0)`, then `setresgid` and `setresuid` with the same id three times, so
///    the saved set-user-ID is gone too and no later `setuid(0)` can succeed (setresuid(2));
///    groups and gid first, while the process still may change them.
/// 6. `capset(2)` with all three sets empty: a no-op after the uid change (unless a parent set
///    `SECBIT_NO_SETUID_FIXUP`), the whole drop when started with file capabilities.
/// 7. `PR_SET_NO_NEW_PRIVS`, so no execve(2) can give anything back.
/// 8. Verify: the ids, groups and sets read back as intended, and `setresuid(0, 0, 0)`,
///    `setresgid(0, 0, 0)` and raising `CAP_NET_RAW` all fail. Anything else is an error and the
///    caller must not continue.
public enum PrivilegeDrop {
    /// The user root switches to without `-Z`. Not the invoking user of `sudo` (`SUDO_UID`): a
    /// parser compromise would then reach that user's files (keys, shell start-up files) and
    /// processes; `nobody` owns nothing (tcpdump uses a dedicated `tcpdump` account likewise).
    public static let defaultUser = "nobody"

    /// Decides what to drop; run before the capture is opened. `user` is `-Z USER` (nil: the
    /// default), `keep` is `--no-drop`.
    public static func plan(user: String?, keep: Bool) throws(PrivilegeDropError) -> PrivilegeDropPlan {
        if keep { return .keep }
        guard geteuid() == 0 else {
            // Without root the uid cannot change; naming oneself (or root, to keep) is harmless.
            if let user {
                let target = try lookUpUser(user)
                if target.uid == 0 { return .keep }
                guard target.uid == getuid() else {
                    throw PrivilegeDropError("switching to user '\(target.name)' needs root "
                                             + "(running as uid \(getuid())); leave out -Z")
                }
            }
            #if os(Linux)
            return .capabilitiesOnly
            #else
            return .keep  // no capabilities to drop
            #endif
        }
        let target = try lookUpUser(user ?? defaultUser)
        if target.uid == 0 { return .keep }
        #if os(Linux)
        return .switchUser(target)
        #else
        throw PrivilegeDropError("implemented for Linux only; capture as root with --no-drop")
        #endif
    }

    /// A user by name, or by number when no name matches (`-Z 65534`), from the password
    /// database; read before the drop, since `nobody` may not be able to read it afterwards.
    public static func lookUpUser(_ name: String) throws(PrivilegeDropError) -> PrivilegeUser {
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        var status = getpwnam_r(name, &entry, &buffer, buffer.count, &found)
        if found == nil, status == 0, let number = UInt32(name) {
            status = getpwuid_r(number, &entry, &buffer, buffer.count, &found)
        }
        guard status == 0 else {
            throw PrivilegeDropError("cannot look up user '\(name)': \(String(cString: strerror(status)))")
        }
        guard found != nil else {
            throw PrivilegeDropError("no user '\(name)' (name another with -Z USER, or keep root with --no-drop)")
        }
        return PrivilegeUser(name: String(cString: entry.pw_name), uid: entry.pw_uid, gid: entry.pw_gid)
    }

    /// Carries out `plan` and returns the credentials read back afterwards; throws (and the
    /// caller must stop) if any step fails or the result is not what was asked for.
    @discardableResult
    public static func apply(_ plan: PrivilegeDropPlan) throws(PrivilegeDropError) -> PrivilegeState {
        #if os(Linux)
        switch plan {
        case .keep:
            return current()
        case .capabilitiesOnly:
            try dropAll(switchingTo: nil)
        case .switchUser(let user):
            try dropAll(switchingTo: user)
        }
        return try verify(plan)
        #else
        guard case .keep = plan else { throw PrivilegeDropError("implemented for Linux only") }
        return current()
        #endif
    }

    /// The calling thread's credentials.
    public static func current() -> PrivilegeState {
        #if os(Linux)
        var uids: (uid_t, uid_t, uid_t) = (0, 0, 0)
        var gids: (gid_t, gid_t, gid_t) = (0, 0, 0)
        _ = getresuid(&uids.0, &uids.1, &uids.2)
        _ = getresgid(&gids.0, &gids.1, &gids.2)
        let sets = capabilitySets()
        var ambient: UInt64 = 0
        var bounding: UInt64 = 0
        for capability: Int32 in 0..<64 {
            let inBounding = prctl(PR_CAPBSET_READ, capability)
            guard inBounding >= 0 else { break }  // EINVAL: past the kernel's last capability
            if inBounding == 1 { bounding |= 1 << UInt64(capability) }
            if prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, capability) == 1 { ambient |= 1 << UInt64(capability) }
        }
        return PrivilegeState(uids: (uids.0, uids.1, uids.2), gids: (gids.0, gids.1, gids.2),
                              supplementaryGroups: Int(getgroups(0, nil)),
                              effective: sets.effective, permitted: sets.permitted, inheritable: sets.inheritable,
                              ambient: ambient, bounding: bounding,
                              noNewPrivileges: prctl(PR_GET_NO_NEW_PRIVS) == 1)
        #else
        return PrivilegeState(uids: (getuid(), geteuid(), geteuid()), gids: (getgid(), getegid(), getegid()),
                              supplementaryGroups: Int(getgroups(0, nil)), effective: 0, permitted: 0,
                              inheritable: 0, ambient: 0, bounding: 0, noNewPrivileges: false)
        #endif
    }

    #if os(Linux)
    private static func dropAll(switchingTo user: PrivilegeUser?) throws(PrivilegeDropError) {
        let threads = try threadCount()
        guard threads == 1 else {
            throw PrivilegeDropError("the process has \(threads) threads; capabilities belong to each thread "
                                     + "and could not all be dropped")
        }
        guard prctl(PR_SET_KEEPCAPS, 0) == 0 else { throw failure("prctl(PR_SET_KEEPCAPS)") }
        try dropBoundingSet()
        if prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL) != 0 && errno != EINVAL {
            // EINVAL: a kernel before 4.3, which has no ambient set to clear.
            throw failure("prctl(PR_CAP_AMBIENT_CLEAR_ALL)")
        }
        if let user {
            guard setgroups(0, nil) == 0 else { throw failure("setgroups") }
            guard setresgid(user.gid, user.gid, user.gid) == 0 else { throw failure("setresgid(\(user.gid))") }
            guard setresuid(user.uid, user.uid, user.uid) == 0 else { throw failure("setresuid(\(user.uid))") }
        }
        guard setCapabilities(0) == 0 else { throw failure("capset") }
        guard prctl(PR_SET_NO_NEW_PRIVS, 1) == 0 else { throw failure("prctl(PR_SET_NO_NEW_PRIVS)") }
    }

    /// Empties the bounding set if the process may (`CAP_SETPCAP`); leaves it otherwise.
    private static func dropBoundingSet() throws(PrivilegeDropError) {
        for capability: Int32 in 0..<64 {
            let held = prctl(PR_CAPBSET_READ, capability)
            if held < 0 { return }  // EINVAL: past the kernel's last capability
            guard held == 1 else { continue }
            if prctl(PR_CAPBSET_DROP, capability) != 0 {
                if errno == EPERM { return }  // no CAP_SETPCAP: rely on no_new_privs
                throw failure("prctl(PR_CAPBSET_DROP, \(capability))")
            }
        }
    }

    /// Reads back what `dropAll` did and tries to undo it; any success is an error.
    private static func verify(_ plan: PrivilegeDropPlan) throws(PrivilegeDropError) -> PrivilegeState {
        let state = current()
        if case .switchUser(let user) = plan {
            guard state.uids == (user.uid, user.uid, user.uid), state.gids == (user.gid, user.gid, user.gid) else {
                let uids = "\(state.uids.real)/\(state.uids.effective)/\(state.uids.saved)"
                let gids = "\(state.gids.real)/\(state.gids.effective)/\(state.gids.saved)"
                throw PrivilegeDropError("after switching to '\(user.name)' the real/effective/saved uids are "
                                         + "\(uids) and gids \(gids), not \(user.uid) and \(user.gid)")
            }
            guard state.supplementaryGroups == 0 else {
                throw PrivilegeDropError("\(state.supplementaryGroups) supplementary groups left")
            }
            if setresuid(0, 0, 0) == 0 || setresgid(0, 0, 0) == 0 {
                throw PrivilegeDropError("root could be regained after switching to '\(user.name)'")
            }
        }
        guard state.effective == 0, state.permitted == 0, state.inheritable == 0, state.ambient == 0 else {
            throw PrivilegeDropError("capabilities left: effective \(hex(state.effective)), permitted "
                                     + "\(hex(state.permitted)), inheritable \(hex(state.inheritable)), "
                                     + "ambient \(hex(state.ambient))")
        }
        guard state.noNewPrivileges else { throw PrivilegeDropError("no_new_privs is not set") }
        if setCapabilities(1 << UInt64(CAP_NET_RAW)) == 0 {
            throw PrivilegeDropError("CAP_NET_RAW could be raised again")
        }
        return state
    }

    /// `Threads:` of /proc/self/status.
    private static func threadCount() throws(PrivilegeDropError) -> Int {
        let descriptor = open("/proc/self/status", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("cannot count threads: open /proc/self/status") }
        defer { _ = close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 16_384)
        var filled = 0
        while filled < bytes.count {
            let got = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
            if got < 0 && errno == EINTR { continue }
            guard got >= 0 else { throw failure("cannot count threads: read /proc/self/status") }
            if got == 0 { break }
            filled += got
        }
        let text = String(decoding: bytes[..<filled], as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("Threads:") {
            if let count = Int(String(line.dropFirst("Threads:".count).filter { $0 != " " && $0 != "\t" })) {
                return count
            }
        }
        throw PrivilegeDropError("cannot count threads: no 'Threads:' line in /proc/self/status")
    }

    /// Effective, permitted and inheritable sets of the calling thread (capget(2), version 3:
    /// two 32-bit words per set, low word first).
    private static func capabilitySets() -> (effective: UInt64, permitted: UInt64, inheritable: UInt64) {
        var header = __user_cap_header_struct(version: UInt32(_LINUX_CAPABILITY_VERSION_3), pid: 0)
        var data = [__user_cap_data_struct](repeating: __user_cap_data_struct(), count: 2)
        guard capget(&header, &data) == 0 else { return (.max, .max, .max) }  // unknown: never "none"
        func join(_ low: UInt32, _ high: UInt32) -> UInt64 { UInt64(high) << 32 | UInt64(low) }
        return (join(data[0].effective, data[1].effective), join(data[0].permitted, data[1].permitted),
                join(data[0].inheritable, data[1].inheritable))
    }

    /// Sets effective and permitted to `mask` and inheritable to none (capset(2)).
    private static func setCapabilities(_ mask: UInt64) -> Int32 {
        var header = __user_cap_header_struct(version: UInt32(_LINUX_CAPABILITY_VERSION_3), pid: 0)
        let low = UInt32(truncatingIfNeeded: mask), high = UInt32(truncatingIfNeeded: mask >> 32)
        var data = [__user_cap_data_struct(effective: low, permitted: low, inheritable: 0),
                    __user_cap_data_struct(effective: high, permitted: high, inheritable: 0)]
        return capset(&header, &data)
    }

    private static func prctl(_ option: Int32, _ argument: Int32 = 0, _ second: Int32 = 0) -> Int32 {
        switchyard_prctl(option, UInt(argument), UInt(second), 0, 0)
    }

    private static func failure(_ call: String) -> PrivilegeDropError {
        PrivilegeDropError("\(call): \(String(cString: strerror(errno)))")
    }

    private static func hex(_ mask: UInt64) -> String {
        let digits = String(mask, radix: 16)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }
    #endif
}
