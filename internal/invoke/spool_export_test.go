package invoke

// SetSpoolMem makes h keep at most n bytes of each spool in memory, so
// that tests reach the spool's file with small fleets.
func SetSpoolMem(h *Handler, n int) { h.spoolMem = n }
