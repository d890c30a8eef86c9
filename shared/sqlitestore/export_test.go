package sqlitestore

// DueJobsQuery is the query DueJobs runs, for checking its plan.
const DueJobsQuery = dueJobsQuery

// SchemaVersion is the version Open brings a file to: the number of
// migration files.
func SchemaVersion() int {
	steps, err := migrations()
	if err != nil {
		panic(err)
	}
	return len(steps)
}
