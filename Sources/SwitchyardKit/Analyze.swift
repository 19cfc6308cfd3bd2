import Findings
import PacketCapture

extension OutputSink {
    /// Analyses one capture file into this sink; returns false when it could not be opened.
    @discardableResult
    public func analyzeFile(_ path: String, name: String? = nil, options: PipelineOptions = PipelineOptions()) -> Bool {
        let displayName = name ?? path
        do {
            var reader = try CaptureFileReader(path: path)
            analyzeSource(&reader, name: displayName, format: reader.formatName, options: options, sink: self)
            return true
        } catch {
            tally.unreadable.append((displayName, error.description))
            return false
        }
    }
}
