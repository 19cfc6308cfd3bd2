// swift-tools-version:6.0
import PackageDescription

// Data flows one way through these modules; see docs/ARCHITECTURE.md.
// No package dependencies: libpcap comes from the system (Debian's libpcap-dev).
let package = Package(
    name: "Switchyard",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "switchyard", targets: ["switchyard"]),
    ],
    targets: [
        .systemLibrary(
            name: "CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"]), .brew(["libpcap"])]
        ),
        .target(name: "PacketCapture", dependencies: ["CPcap"]),
        .target(name: "PacketDecoding", dependencies: ["PacketCapture"]),
        .target(name: "StreamReassembly", dependencies: ["PacketDecoding"]),
        .target(name: "HTTP1"),
        // DEFLATE, zlib and gzip decoding: a leaf, so that capture reading (gzip files) and the
        // post-switch decoders (permessage-deflate, SPDY/3) share one inflater.
        .target(name: "Inflate"),
        .target(name: "Findings", dependencies: ["PacketDecoding"]),
        .target(name: "UpgradeAnalysis", dependencies: ["HTTP1", "Findings", "StreamReassembly", "SwitchedProtocols"]),
        .target(name: "SwitchedProtocols", dependencies: ["Findings", "Inflate"]),
        .target(name: "Reporting", dependencies: ["Findings"]),
        .target(name: "ProxyCorrelation", dependencies: ["UpgradeAnalysis", "Findings", "SwitchedProtocols", "HTTP1"]),
        .target(
            name: "SwitchyardKit",
            dependencies: ["PacketCapture", "PacketDecoding", "StreamReassembly", "HTTP1",
                           "UpgradeAnalysis", "SwitchedProtocols", "Findings", "Reporting", "ProxyCorrelation"]
        ),
        .executableTarget(name: "switchyard", dependencies: ["SwitchyardKit", "PacketCapture", "StreamReassembly", "Reporting", "Findings"]),
        .target(name: "TestSupport", dependencies: ["PacketCapture"]),
        .testTarget(name: "PacketCaptureTests", dependencies: ["PacketCapture", "TestSupport"]),
        .testTarget(name: "PacketDecodingTests", dependencies: ["PacketDecoding", "TestSupport"]),
        .testTarget(name: "StreamReassemblyTests", dependencies: ["StreamReassembly", "TestSupport"]),
        .testTarget(name: "HTTP1Tests", dependencies: ["HTTP1", "TestSupport"]),
        .testTarget(name: "UpgradeAnalysisTests", dependencies: ["UpgradeAnalysis", "TestSupport"]),
        .testTarget(name: "FindingsTests", dependencies: ["Findings"]),
        .testTarget(name: "ProxyCorrelationTests", dependencies: ["ProxyCorrelation", "UpgradeAnalysis", "HTTP1", "Findings", "PacketCapture", "PacketDecoding"]),
        .testTarget(name: "InflateTests", dependencies: ["Inflate"], exclude: ["Fixtures"]),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting", "Findings"]),
        .testTarget(name: "SwitchedProtocolsTests", dependencies: ["SwitchedProtocols"], exclude: ["Fixtures"]),
        .testTarget(
            name: "SwitchyardKitTests",
            dependencies: ["SwitchyardKit", "TestSupport"],
            exclude: ["Fixtures"],
            resources: []
        ),
    ],
    swiftLanguageModes: [.v6]
)
