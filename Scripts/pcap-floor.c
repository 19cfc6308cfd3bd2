/*
 * The floor for `Scripts/bench`: the cheapest possible read of a capture through libpcap.
 * pcap_open_offline + pcap_next_ex, touching each packet's first byte and summing caplen so
 * the compiler cannot drop the loop. Anything that reads every packet costs at least this.
 *
 * Build: cc -O2 -o .build/pcap-floor Scripts/pcap-floor.c -lpcap
 * Usage: .build/pcap-floor FILE   (prints "packets bytes checksum")
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(argv[1], errbuf);
    if (p == NULL) {
        fprintf(stderr, "pcap-floor: %s\n", errbuf);
        return 1;
    }
    struct pcap_pkthdr *header;
    const u_char *data;
    uint64_t packets = 0, bytes = 0, touched = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &header, &data)) == 1) {
        packets++;
        bytes += header->caplen;
        if (header->caplen > 0)
            touched += data[0];
    }
    if (rc == PCAP_ERROR) {
        fprintf(stderr, "pcap-floor: %s\n", pcap_geterr(p));
        pcap_close(p);
        return 1;
    }
    pcap_close(p);
    printf("%llu %llu %llu\n", (unsigned long long)packets, (unsigned long long)bytes,
           (unsigned long long)touched);
    return 0;
}
