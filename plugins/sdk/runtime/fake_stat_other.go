//go:build !linux

package runtime

import (
	"fmt"
	"os"
)

// hostStat is the test image's stat line for name, a file of a bind
// mount found at host; off Linux it tells the owner and filesystem apart
// no further than the content and mode.
func hostStat(name, host string) string {
	fi, err := os.Stat(host)
	if err != nil {
		return fmt.Sprintf("%s error=%q", name, unwrapPathErr(err).Error())
	}
	b, err := os.ReadFile(host)
	if err != nil {
		return fmt.Sprintf("%s mode=%04o error=%q", name, fi.Mode().Perm(), unwrapPathErr(err).Error())
	}
	return fmt.Sprintf("%s uid=0 gid=0 mode=%04o fs=unknown content=%q", name, fi.Mode().Perm(), b)
}
