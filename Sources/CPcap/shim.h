#ifndef SWITCHYARD_CPCAP_SHIM_H
#define SWITCHYARD_CPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
