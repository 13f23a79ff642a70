/**
 * Firmware fills fields it was never given with text that looks like a
 * value: "To be filled by O.E.M." on a thousand boards at once, an all-zero
 * UUID on every VM of some hypervisors. Two machines sharing such a value
 * are not the same machine, so identity and diffing treat these as absent.
 */

/** Compared after lowercasing and dropping everything but letters and digits ("Not Specified" → "notspecified"). */
const PLACEHOLDERS = new Set(
  [
    'To be filled by O.E.M.',
    'To Be Filled By O.E.M.',
    'Not Specified',
    'Not Applicable',
    'Not Available',
    'Not Present',
    'Default string',
    'System Serial Number',
    'Chassis Serial Number',
    'Base Board Serial Number',
    'System Product Name',
    'SerialNumber',
    'Serial Number',
    'None',
    'N/A',
    'NA',
    'Unknown',
    'Invalid',
    'Empty',
    'OEM',
    'O.E.M.',
    '0123456789',
    '123456789',
    '1234567890',
    // a UUID some AMI BIOSes ship on every board: the bytes 00 … 09 in SMBIOS order
    '03000200-0400-0500-0006-000700080009',
  ].map((value) => squash(value)),
)

function squash(value: string): string {
  return value.toLowerCase().replace(/[^a-z0-9]/g, '')
}

/** True for a serial, UUID or vendor field that carries no identity: empty, punctuation only, one repeated character, or a known filler. */
export function isPlaceholder(value: string | null | undefined): boolean {
  if (value === null || value === undefined) return true
  const squashed = squash(value)
  // "", "........", "00000000-0000-0000-0000-000000000000", "FFFFFFFF-…", "xxxxxxxx", "0"
  if (squashed === '' || /^(.)\1*$/.test(squashed)) return true
  return PLACEHOLDERS.has(squashed)
}

/** The value trimmed, or null when it is a placeholder. */
export function meaningful(value: string | null | undefined): string | null {
  return isPlaceholder(value) ? null : (value as string).trim()
}
