package analytics

// SetBeforeSummary sets the hook run between the events file and the
// summary file.
func (s *Sink) SetBeforeSummary(fn func()) { s.beforeSummary = fn }
