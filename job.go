package haven

import "time"

// Job stages, as the Hub names them. A job waits in SCHEDULING for its turn,
// runs, and ends in one of the terminal stages.
const (
	JobScheduling = "SCHEDULING"
	JobRunning    = "RUNNING"
	JobCompleted  = "COMPLETED"
	JobError      = "ERROR"
	JobCanceled   = "CANCELED"
	JobDeleted    = "DELETED"
)

// JobTerminal reports whether a job in stage has ended.
func JobTerminal(stage string) bool {
	switch stage {
	case JobCompleted, JobError, JobCanceled, JobDeleted:
		return true
	}
	return false
}

// JobSpec is what to run: an image or a Space's environment, a command,
// its environment, hardware, time limit, labels and volumes. Secret values
// are kept apart (sealed); Secrets lists their names.
type JobSpec struct {
	DockerImage    string            `json:"dockerImage,omitempty"`
	SpaceID        string            `json:"spaceId,omitempty"`
	Command        []string          `json:"command"`
	Arguments      []string          `json:"arguments"`
	Environment    map[string]string `json:"environment"`
	Secrets        []string          `json:"secrets,omitempty"`
	Flavor         string            `json:"flavor"`
	TimeoutSeconds int               `json:"timeoutSeconds,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Volumes        []JobVolume       `json:"volumes,omitempty"`
	// Requirements and Files are set by Haven itself (a fine-tune), never by
	// clients: pip lines for the job's environment and a folder of files
	// its command runs among.
	Requirements []string `json:"requirements,omitempty"`
	Files        string   `json:"files,omitempty"`
	// Resumable jobs are started again after Haven restarts instead of being
	// marked as interrupted (they resume from their checkpoints).
	Resumable bool `json:"resumable,omitempty"`
	// Scopes narrow the job's token to those of the fine-grained token it
	// was submitted with; nil for the submitter's full rights.
	Scopes *FineGrained `json:"scopes,omitempty"`
}

// JobVolume is a bucket or repository a job sees at MountPath.
type JobVolume struct {
	Type      string `json:"type"` // bucket, model, dataset or space
	Source    string `json:"source"`
	MountPath string `json:"mountPath"`
	Revision  string `json:"revision,omitempty"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
	Path      string `json:"path,omitempty"` // a folder of the source
}

// Job is one run of a JobSpec in a namespace.
type Job struct {
	ID            string // 24 hex digits
	OwnerID       int64  // the namespace (user or organisation) it runs in
	Owner         string
	OwnerIsOrg    bool
	InitiatorID   int64 // who submitted it
	Initiator     string
	InitiatorType string // user, scheduled-job or duplicated-job
	ScheduleID    string // the scheduled job that started it, if any
	Spec          JobSpec
	Stage         string
	Message       string
	CreatedAt     time.Time
	StartedAt     time.Time // zero until it runs
	FinishedAt    time.Time // zero until it ends
	// Replica is the replica of haven serve that runs or ran it ("" before
	// it starts).
	Replica string
}

// ScheduledJob starts a job from Spec on every tick of Schedule.
type ScheduledJob struct {
	ID          string
	OwnerID     int64
	Owner       string
	OwnerIsOrg  bool
	CreatorID   int64 // whose rights its jobs run with
	Schedule    string
	Suspend     bool
	Concurrency bool // start a run while the previous one still runs
	Spec        JobSpec
	LastJobID   string
	LastJobAt   time.Time
	NextRunAt   time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}
