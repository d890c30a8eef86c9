package sqlitestore

// DueJobsQuery is the query DueJobs runs, for checking its plan.
const DueJobsQuery = dueJobsQuery
