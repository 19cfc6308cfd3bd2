import PacketCapture
// PENDING (helper): classic pcap / pcapng writer and packet builders for tests.
