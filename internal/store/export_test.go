package store

// SetPageSize makes Keys read n items per page on Redis (SCAN COUNT) and
// DynamoDB (Scan Limit), so tests can see the pagination work.
func SetPageSize(s Store, n int) {
	switch s := s.(type) {
	case *Redis:
		s.scanCount = int64(n)
	case *Dynamo:
		s.pageSize = int32(n)
	}
}
