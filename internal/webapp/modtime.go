package webapp

import "time"

// modTime is the Last-Modified of every asset: embedded files have none, so
// the ETag-less revalidation uses the process start.
var modTime = time.Now().UTC().Truncate(time.Second)
