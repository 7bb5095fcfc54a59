import Foundation

/// A partial SASLprep (RFC 4013) applied to passwords before hashing, so that
/// registration, SCRAM and PLAIN agree with clients that normalise (most do).
///
/// Implemented: non-ASCII spaces (RFC 3454 C.1.2) map to U+0020, "commonly mapped to
/// nothing" characters (B.1) are removed, then NFKC. Not implemented: the prohibited-output
/// and bidi checks, so odd passwords are hashed rather than rejected. ASCII passwords are
/// returned unchanged, which is the common case and skips Foundation entirely.
enum SASLprep {
    static func prepare(_ string: String) -> String {
        if string.utf8.allSatisfy({ $0 < 0x80 }) { return string }
        var scalars = String.UnicodeScalarView()
        for scalar in string.unicodeScalars {
            if mappedToNothing(scalar.value) { continue }
            scalars.append(nonASCIISpace(scalar.value) ? " " : scalar)
        }
        return String(scalars).precomposedStringWithCompatibilityMapping
    }

    private static func nonASCIISpace(_ v: UInt32) -> Bool {
        switch v {
        case 0x00A0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    private static func mappedToNothing(_ v: UInt32) -> Bool {
        switch v {
        case 0x00AD, 0x034F, 0x1806, 0x180B...0x180D, 0x200B...0x200D, 0x2060, 0xFE00...0xFE0F, 0xFEFF:
            return true
        default: return false
        }
    }
}
