import XCTest
import XMPPCore
@testable import mod_muc_light

/// The rules of MUC Light affiliation changes (the spec's §5.4, MongooseIM's defaults).
final class AffiliationChangeTests: XCTestCase {
    private let owner = JID("crone1@shakespeare.lit")!
    private let member = JID("hag77@shakespeare.lit")!
    private let other = JID("hag88@shakespeare.lit")!
    private let newcomer = JID("hag66@shakespeare.lit")!

    private func room() -> MUCLightRoom {
        MUCLightRoom(jid: JID("coven@muclight.shakespeare.lit")!, version: "v1", config: MUCLightRoom.defaultConfig,
                     occupants: [owner: .owner, member: .member, other: .member])
    }

    private func apply(_ changes: [(JID, Affiliation)], by actor: JID, options: MUCLightOptions = MUCLightOptions(),
                       to room: inout MUCLightRoom) -> AffiliationChange.Outcome {
        AffiliationChange(options: options).apply(changes, by: actor, to: &room)
    }

    func testTheSpecExample() {
        // Add hag66, make hag77 the owner, remove hag88: crone1 becomes a member.
        var room = room()
        let outcome = apply([(newcomer, .member), (member, .owner), (other, .none)], by: owner, to: &room)
        XCTAssertEqual(outcome, .changed(changes: [newcomer: .member, member: .owner, other: .none, owner: .member]))
        XCTAssertEqual(room.occupants, [owner: .member, member: .owner, newcomer: .member])
    }

    func testMembersMayLeaveButNotRemoveOrInvite() {
        var room = room()
        XCTAssertEqual(apply([(other, .none)], by: member, to: &room), .refused(condition: "not-allowed"))
        XCTAssertEqual(apply([(newcomer, .member)], by: member, to: &room), .refused(condition: "not-allowed"))
        XCTAssertEqual(apply([(member, .none)], by: member, to: &room), .changed(changes: [member: .none]))
        XCTAssertNil(room.occupants[member])
        // Not an occupant any more: the room does not exist for it.
        XCTAssertEqual(apply([(member, .member)], by: member, to: &room), .refused(condition: "item-not-found"))
    }

    func testAllCanInviteLetsMembersAddMembersOnly() {
        var options = MUCLightOptions()
        options.allCanInvite = true
        var room = room()
        XCTAssertEqual(apply([(newcomer, .member)], by: member, options: options, to: &room),
                       .changed(changes: [newcomer: .member]))
        XCTAssertEqual(apply([(other, .none)], by: member, options: options, to: &room), .refused(condition: "not-allowed"))
    }

    func testTheOwnerLeavingLeavesAnHeirAndTheLastOneOutEmptiesTheRoom() {
        var room = room()
        XCTAssertEqual(apply([(owner, .none)], by: owner, to: &room),
                       .changed(changes: [owner: .none, member: .owner]))   // first member by JID
        XCTAssertEqual(apply([(member, .none), (other, .none)], by: member, to: &room),
                       .changed(changes: [member: .none, other: .none]))
        XCTAssertTrue(room.occupants.isEmpty)
    }

    func testMeaninglessChangesAndLimits() {
        var room = room()
        XCTAssertEqual(apply([(member, .member)], by: owner, to: &room), .refused(condition: "bad-request"))
        var options = MUCLightOptions()
        options.maxOccupants = 3
        XCTAssertEqual(apply([(newcomer, .member)], by: owner, options: options, to: &room), .refused(condition: "not-allowed"))
    }

    func testEqualOccupantsHaveNoOwner() {
        var options = MUCLightOptions()
        options.equalOccupants = true
        var room = MUCLightRoom(jid: JID("coven@muclight.shakespeare.lit")!, version: "v1", config: MUCLightRoom.defaultConfig,
                                occupants: [owner: .member, member: .member])
        // Nobody is an owner: only leaving (and, with all_can_invite, inviting) is open to them.
        XCTAssertEqual(apply([(newcomer, .owner)], by: owner, options: options, to: &room), .refused(condition: "not-allowed"))
        XCTAssertEqual(apply([(owner, .none)], by: owner, options: options, to: &room), .changed(changes: [owner: .none]))
        XCTAssertEqual(room.occupants, [member: .member])
    }

    func testBlockedUsersAreLeftOutSilently() {
        var room = room()
        let outcome = AffiliationChange(options: MUCLightOptions()).apply([(newcomer, .member), (other, .none)], by: owner,
                                                                         to: &room, blocked: { $0 == self.newcomer })
        XCTAssertEqual(outcome, .changed(changes: [other: .none]))
        XCTAssertNil(room.occupants[newcomer])
    }
}
