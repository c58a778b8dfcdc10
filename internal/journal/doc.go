// Package journal is gtrun's per-user event journal: the only thing a
// wrapped call does with its telemetry is append one entry here and exit.
// The delivery agent (internal/shipper) follows the journal and ships the
// entries to the backends; nothing on the user's critical path touches the
// network.
//
// Layout: the journal is a directory of segments, one per minute of wall
// clock ("<unix seconds of the minute>.gtj"), so writers agree on the
// current segment without coordinating. Files are 0600 in a 0700 directory.
//
// Frames: every entry is one frame, written with a single write(2) on an
// O_APPEND descriptor, so concurrent writers never interleave:
//
//	"GTJ1" | type (1 byte) | payload length (uint32 LE) | CRC-32 of payload (uint32 LE) | payload
//
// A frame whose magic, length or checksum is wrong (a writer killed in the
// middle of its write, a damaged disk block) is torn: readers count it and
// resynchronise on the next magic. A frame that is still incomplete at the
// end of a segment that can still grow is simply not there yet.
//
// Sealing: once a segment's minute is over (plus a grace period) the agent
// takes an exclusive flock on it and appends a seal frame. Writers hold a
// shared flock while they append and refuse a sealed segment (they check the
// last bytes before writing), so a sealed segment never grows again, even
// when the clock steps back: such a writer uses a fresh segment instead.
// A sealed segment that every reader has passed can be removed.
package journal
