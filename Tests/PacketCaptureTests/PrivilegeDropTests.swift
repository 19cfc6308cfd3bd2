import Foundation
import XCTest
@testable import PacketCapture
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// What can be checked of `PrivilegeDrop` inside the test process, which must keep its
/// privileges: the credentials it reads back and the plan it makes. The drop itself runs in the
/// `switchyard live` end-to-end tests (SwitchyardKitTests/LivePrivilegeTests).
final class PrivilegeDropTests: XCTestCase {
    /// capget(2) and the prctl reads decode to what the kernel shows in /proc.
    func testCurrentStateMatchesProcStatus() throws {
        #if os(Linux)
        let state = PrivilegeDrop.current()
        let fields = try ProcessStatus.fields()
        func hex(_ mask: UInt64) -> String {
            let digits = String(mask, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        XCTAssertEqual(fields["CapEff"], hex(state.effective))
        XCTAssertEqual(fields["CapPrm"], hex(state.permitted))
        XCTAssertEqual(fields["CapInh"], hex(state.inheritable))
        XCTAssertEqual(fields["CapAmb"], hex(state.ambient))
        XCTAssertEqual(fields["CapBnd"], hex(state.bounding))
        XCTAssertEqual(fields["NoNewPrivs"], state.noNewPrivileges ? "1" : "0")
        let uids = fields["Uid"]?.split(separator: "\t").prefix(3).map(String.init)
        XCTAssertEqual(uids, ["\(state.uids.real)", "\(state.uids.effective)", "\(state.uids.saved)"])
        let gids = fields["Gid"]?.split(separator: "\t").prefix(3).map(String.init)
        XCTAssertEqual(gids, ["\(state.gids.real)", "\(state.gids.effective)", "\(state.gids.saved)"])
        let groups = fields["Groups"]?.split(separator: " ").count
        XCTAssertEqual(groups, state.supplementaryGroups)
        if getuid() == 0 { XCTAssertNotEqual(state.effective, 0, "root holds capabilities") }
        #else
        throw XCTSkip("capabilities are Linux's")
        #endif
    }

    func testPlan() throws {
        XCTAssertEqual(try PrivilegeDrop.plan(user: nil, keep: true), .keep, "--no-drop")
        XCTAssertEqual(try PrivilegeDrop.plan(user: "root", keep: false), .keep, "-Z root")
        XCTAssertEqual(try PrivilegeDrop.plan(user: "0", keep: false), .keep, "-Z 0: a uid when no name matches")
        XCTAssertThrowsError(try PrivilegeDrop.plan(user: "no-such-user-20", keep: false)) { error in
            XCTAssertEqual("\(error)", "cannot drop privileges: no user 'no-such-user-20' "
                                       + "(name another with -Z USER, or keep root with --no-drop)")
        }
        guard let nobody = getpwnam("nobody")?.pointee else { throw XCTSkip("no user nobody") }
        let expected = PrivilegeUser(name: "nobody", uid: nobody.pw_uid, gid: nobody.pw_gid)
        if geteuid() == 0 {
            #if os(Linux)
            XCTAssertEqual(try PrivilegeDrop.plan(user: nil, keep: false), .switchUser(expected), "root: nobody by default")
            XCTAssertEqual(try PrivilegeDrop.plan(user: "\(nobody.pw_uid)", keep: false), .switchUser(expected))
            #endif
        } else {
            XCTAssertEqual(try PrivilegeDrop.plan(user: nil, keep: false), .capabilitiesOnly)
            XCTAssertThrowsError(try PrivilegeDrop.plan(user: "nobody", keep: false))
        }
    }
}
