package shipper

import (
	"crypto/sha1"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// instanceNS is the UUID namespace of gtrun agents' instance ids.
var instanceNS = [16]byte{0x6f, 0x1c, 0x2a, 0x52, 0x9b, 0x0e, 0x4e, 0x2f, 0x8a, 0x53, 0x3d, 0x7c, 0x61, 0x0b, 0x94, 0x21}

// InstanceID is the agent's service.instance.id: a UUID (version 5) of the
// host name, the user id and the agent's state directory. It is stable
// across the agent's lifetimes (a new id per lifetime would make a new
// series per lifetime) and differs between two agents on one host, whose
// samples would otherwise overwrite each other.
func InstanceID(dir string) string {
	host, _ := os.Hostname()
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	h := sha1.New()
	h.Write(instanceNS[:])
	h.Write([]byte(host + "\x00" + strconv.Itoa(os.Getuid()) + "\x00" + dir))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
