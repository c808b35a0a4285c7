// SPDX-License-Identifier: LGPL-2.1-or-later

// The constants of include/soda/*.h as typed enums (enums_test.go checks
// them against the headers). Values a newer library returns print as Type(N).

package soda

import "strconv"

// State is a server's state (SODA_STATE_*).
type State int

const (
	StateShutoff  State = 1
	StateStarting State = 2
	StateRunning  State = 3
	StatePaused   State = 4
	StateStopping State = 5
	StateCrashed  State = 6
)

var namesState = map[State]string{
	StateShutoff:  "shutoff",
	StateStarting: "starting",
	StateRunning:  "running",
	StatePaused:   "paused",
	StateStopping: "stopping",
	StateCrashed:  "crashed",
}

func (v State) String() string {
	if s, ok := namesState[v]; ok {
		return s
	}
	return "State(" + strconv.Itoa(int(v)) + ")"
}

// EventKind is an event's kind (SODA_EVENT_*).
type EventKind int

const (
	EventState     EventKind = 1
	EventDefined   EventKind = 2
	EventUndefined EventKind = 3
	// EventBlackboxQuota: the blackbox store passed 80 or 95 % of its quota (Reason).
	EventBlackboxQuota EventKind = 4
	// EventBlackboxAnchor: the blackbox store's committed head moved (Reason: the anchor).
	EventBlackboxAnchor EventKind = 5
)

var namesEventKind = map[EventKind]string{
	EventState:          "state",
	EventDefined:        "defined",
	EventUndefined:      "undefined",
	EventBlackboxQuota:  "blackbox_quota",
	EventBlackboxAnchor: "blackbox_anchor",
}

func (v EventKind) String() string {
	if s, ok := namesEventKind[v]; ok {
		return s
	}
	return "EventKind(" + strconv.Itoa(int(v)) + ")"
}

// LogLevel is a log message's level (SODA_LOG_*, syslog numbering).
type LogLevel int

const (
	LogErr     LogLevel = 3
	LogWarning LogLevel = 4
	LogNotice  LogLevel = 5
	LogInfo    LogLevel = 6
	LogDebug   LogLevel = 7
)

var namesLogLevel = map[LogLevel]string{
	LogErr:     "err",
	LogWarning: "warning",
	LogNotice:  "notice",
	LogInfo:    "info",
	LogDebug:   "debug",
}

func (v LogLevel) String() string {
	if s, ok := namesLogLevel[v]; ok {
		return s
	}
	return "LogLevel(" + strconv.Itoa(int(v)) + ")"
}

// ImageSource is where an image is built from (SODA_IMAGE_SOURCE_*).
type ImageSource int

const (
	ImageSourceBusybox   ImageSource = 1
	ImageSourceDirectory ImageSource = 2
	ImageSourceTarball   ImageSource = 3
	ImageSourceExt4      ImageSource = 4
)

var namesImageSource = map[ImageSource]string{
	ImageSourceBusybox:   "busybox",
	ImageSourceDirectory: "directory",
	ImageSourceTarball:   "tarball",
	ImageSourceExt4:      "ext4",
}

func (v ImageSource) String() string {
	if s, ok := namesImageSource[v]; ok {
		return s
	}
	return "ImageSource(" + strconv.Itoa(int(v)) + ")"
}

// Direction is a bandwidth direction, from the guest (SODA_DIRECTION_*).
type Direction int

const (
	DirectionOut Direction = 1
	DirectionIn  Direction = 2
)

var namesDirection = map[Direction]string{
	DirectionOut: "out",
	DirectionIn:  "in",
}

func (v Direction) String() string {
	if s, ok := namesDirection[v]; ok {
		return s
	}
	return "Direction(" + strconv.Itoa(int(v)) + ")"
}

// Stat is a statistic key (SODA_STAT_*).
type Stat int

const (
	StatCPUUsec             Stat = 1
	StatCPUThrottledUsec    Stat = 2
	StatCPUThrottledPeriods Stat = 3
	StatMemoryBytes         Stat = 4
	StatMemoryPeakBytes     Stat = 5
	StatMemoryMaxBytes      Stat = 6
	StatMemoryLimitHits     Stat = 7
	StatMemoryOOMKills      Stat = 8
	StatPids                Stat = 9
	StatPidsMax             Stat = 10
	StatPidsLimitHits       Stat = 11
	StatNetOutBytes         Stat = 12
	StatNetOutPackets       Stat = 13
	StatNetOutDrops         Stat = 14
	StatNetInBytes          Stat = 15
	StatNetInPackets        Stat = 16
	StatNetInDrops          Stat = 17
)

var namesStat = map[Stat]string{
	StatCPUUsec:             "cpu_usec",
	StatCPUThrottledUsec:    "cpu_throttled_usec",
	StatCPUThrottledPeriods: "cpu_throttled_periods",
	StatMemoryBytes:         "memory_bytes",
	StatMemoryPeakBytes:     "memory_peak_bytes",
	StatMemoryMaxBytes:      "memory_max_bytes",
	StatMemoryLimitHits:     "memory_limit_hits",
	StatMemoryOOMKills:      "memory_oom_kills",
	StatPids:                "pids",
	StatPidsMax:             "pids_max",
	StatPidsLimitHits:       "pids_limit_hits",
	StatNetOutBytes:         "net_out_bytes",
	StatNetOutPackets:       "net_out_packets",
	StatNetOutDrops:         "net_out_drops",
	StatNetInBytes:          "net_in_bytes",
	StatNetInPackets:        "net_in_packets",
	StatNetInDrops:          "net_in_drops",
}

func (v Stat) String() string {
	if s, ok := namesStat[v]; ok {
		return s
	}
	return "Stat(" + strconv.Itoa(int(v)) + ")"
}

// NetCounter is a server's counter kind on a network (SODA_NET_*).
type NetCounter int

const (
	NetAccepted      NetCounter = 0
	NetDropMAC       NetCounter = 1
	NetDropIP        NetCounter = 2
	NetDropARP       NetCounter = 3
	NetDropND        NetCounter = 4
	NetDropOther     NetCounter = 5
	NetDropHost      NetCounter = 6
	NetDropPolicyOut NetCounter = 7
	NetDropPolicyIn  NetCounter = 8
	NetDropped       NetCounter = 9
	NetDropFlood     NetCounter = 10
)

var namesNetCounter = map[NetCounter]string{
	NetAccepted:      "accepted",
	NetDropMAC:       "drop-mac",
	NetDropIP:        "drop-ip",
	NetDropARP:       "drop-arp",
	NetDropND:        "drop-nd",
	NetDropOther:     "drop-other",
	NetDropHost:      "drop-host",
	NetDropPolicyOut: "refused-out",
	NetDropPolicyIn:  "refused-in",
	NetDropped:       "dropped",
	NetDropFlood:     "drop-flood",
}

func (v NetCounter) String() string {
	if s, ok := namesNetCounter[v]; ok {
		return s
	}
	return "NetCounter(" + strconv.Itoa(int(v)) + ")"
}

// NetTotal is a network-wide total (SODA_NET_TOTAL_*).
type NetTotal int

const (
	NetTotalDefault NetTotal = 0
	NetTotalInvalid NetTotal = 1
	NetTotalHost    NetTotal = 2
	NetTotalUplink  NetTotal = 3
)

var namesNetTotal = map[NetTotal]string{
	NetTotalDefault: "default",
	NetTotalInvalid: "invalid",
	NetTotalHost:    "host",
	NetTotalUplink:  "uplink",
}

func (v NetTotal) String() string {
	if s, ok := namesNetTotal[v]; ok {
		return s
	}
	return "NetTotal(" + strconv.Itoa(int(v)) + ")"
}

// RecordType is a blackbox record's type (SODA_BLACKBOX_*).
type RecordType int

const (
	RecordConsoleOut  RecordType = 1
	RecordConsoleIn   RecordType = 2
	RecordSyslog      RecordType = 3
	RecordKernel      RecordType = 4
	RecordExec        RecordType = 5
	RecordAudit       RecordType = 6
	RecordIDSAlert    RecordType = 7
	RecordLifecycle   RecordType = 8
	RecordSnapshot    RecordType = 9
	RecordHeartbeat   RecordType = 10
	RecordLoss        RecordType = 11
	RecordEnd         RecordType = 12
	RecordConsoleSize RecordType = 13
	RecordText        RecordType = 14
)

var namesRecordType = map[RecordType]string{
	RecordConsoleOut:  "console-out",
	RecordConsoleIn:   "console-in",
	RecordSyslog:      "syslog",
	RecordKernel:      "kernel",
	RecordExec:        "exec",
	RecordAudit:       "audit",
	RecordIDSAlert:    "ids-alert",
	RecordLifecycle:   "lifecycle",
	RecordSnapshot:    "snapshot",
	RecordHeartbeat:   "heartbeat",
	RecordLoss:        "loss",
	RecordEnd:         "end",
	RecordConsoleSize: "console-size",
	RecordText:        "text",
}

func (v RecordType) String() string {
	if s, ok := namesRecordType[v]; ok {
		return s
	}
	return "RecordType(" + strconv.Itoa(int(v)) + ")"
}

// KeyType is a blackbox key's type (SODA_BLACKBOX_KEY_*).
type KeyType int

const (
	KeyTenant  KeyType = 1
	KeyFactory KeyType = 2
)

var namesKeyType = map[KeyType]string{
	KeyTenant:  "tenant",
	KeyFactory: "factory",
}

func (v KeyType) String() string {
	if s, ok := namesKeyType[v]; ok {
		return s
	}
	return "KeyType(" + strconv.Itoa(int(v)) + ")"
}

// Durability is what a blackbox store's commit does (SODA_BLACKBOX_DURABILITY_*).
type Durability int

const (
	DurabilityGroup Durability = 1
	DurabilityFrame Durability = 2
	DurabilityWrite Durability = 3
)

var namesDurability = map[Durability]string{
	DurabilityGroup: "group",
	DurabilityFrame: "frame",
	DurabilityWrite: "write",
}

func (v Durability) String() string {
	if s, ok := namesDurability[v]; ok {
		return s
	}
	return "Durability(" + strconv.Itoa(int(v)) + ")"
}

// StoreCounter is a blackbox store's counter (SODA_BLACKBOX_STAT_*).
type StoreCounter int

const (
	StoreFrames         StoreCounter = 1
	StoreBytes          StoreCounter = 2
	StoreDroppedFrames  StoreCounter = 3
	StoreDroppedBytes   StoreCounter = 4
	StoreGarbageBytes   StoreCounter = 5
	StoreRejectedFrames StoreCounter = 6
	StoreCommits        StoreCounter = 7
	StoreSegments       StoreCounter = 8
	StoreStoreBytes     StoreCounter = 9
	StoreForeignStreams StoreCounter = 10
	StoreQuotaBytes     StoreCounter = 11
)

var namesStoreCounter = map[StoreCounter]string{
	StoreFrames:         "frames",
	StoreBytes:          "bytes",
	StoreDroppedFrames:  "dropped-frames",
	StoreDroppedBytes:   "dropped-bytes",
	StoreGarbageBytes:   "garbage-bytes",
	StoreRejectedFrames: "rejected-frames",
	StoreCommits:        "commits",
	StoreSegments:       "segments",
	StoreStoreBytes:     "store-bytes",
	StoreForeignStreams: "foreign-streams",
	StoreQuotaBytes:     "quota-bytes",
}

func (v StoreCounter) String() string {
	if s, ok := namesStoreCounter[v]; ok {
		return s
	}
	return "StoreCounter(" + strconv.Itoa(int(v)) + ")"
}

// Severity is a finding's severity (SODA_BLACKBOX_SEVERITY_*).
type Severity int

const (
	SeverityInfo    Severity = 0
	SeverityWarning Severity = 1
	SeverityLoss    Severity = 2
	SeverityError   Severity = 3
)

var namesSeverity = map[Severity]string{
	SeverityInfo:    "info",
	SeverityWarning: "warning",
	SeverityLoss:    "loss",
	SeverityError:   "error",
}

func (v Severity) String() string {
	if s, ok := namesSeverity[v]; ok {
		return s
	}
	return "Severity(" + strconv.Itoa(int(v)) + ")"
}

// Basis is how a finding was found (SODA_BLACKBOX_BASIS_*).
type Basis int

const (
	BasisStructure Basis = 1
	BasisCrypto    Basis = 2
)

var namesBasis = map[Basis]string{
	BasisStructure: "structure",
	BasisCrypto:    "crypto",
}

func (v Basis) String() string {
	if s, ok := namesBasis[v]; ok {
		return s
	}
	return "Basis(" + strconv.Itoa(int(v)) + ")"
}

// FindingKind is a finding's kind (SODA_BLACKBOX_F_*).
type FindingKind int

const (
	FindingBadFile        FindingKind = 1
	FindingCorruptFrame   FindingKind = 2
	FindingGarbage        FindingKind = 3
	FindingForeignSegment FindingKind = 4
	FindingSegmentMissing FindingKind = 5
	FindingChainBreak     FindingKind = 6
	FindingUnknownStream  FindingKind = 7
	FindingSeqGap         FindingKind = 8
	FindingSeqReorder     FindingKind = 9
	FindingSeqDuplicate   FindingKind = 10
	FindingProtocol       FindingKind = 11
	FindingTruncated      FindingKind = 12
	FindingTornTail       FindingKind = 13
	FindingDeclaredLoss   FindingKind = 14
	FindingNoEnd          FindingKind = 15
	FindingStale          FindingKind = 16
	FindingAnchor         FindingKind = 17
	FindingDecryptFailed  FindingKind = 18
	FindingBadRecord      FindingKind = 19
	FindingWrongKey       FindingKind = 20
	FindingForeignStream  FindingKind = 21
	FindingUnreadable     FindingKind = 22
	FindingRecovered      FindingKind = 23
	FindingClock          FindingKind = 24
)

var namesFindingKind = map[FindingKind]string{
	FindingBadFile:        "bad-file",
	FindingCorruptFrame:   "corrupt-frame",
	FindingGarbage:        "garbage",
	FindingForeignSegment: "foreign-segment",
	FindingSegmentMissing: "segment-missing",
	FindingChainBreak:     "chain-break",
	FindingUnknownStream:  "unknown-stream",
	FindingSeqGap:         "seq-gap",
	FindingSeqReorder:     "seq-reorder",
	FindingSeqDuplicate:   "seq-duplicate",
	FindingProtocol:       "protocol",
	FindingTruncated:      "truncated",
	FindingTornTail:       "torn-tail",
	FindingDeclaredLoss:   "declared-loss",
	FindingNoEnd:          "no-end",
	FindingStale:          "stale",
	FindingAnchor:         "anchor",
	FindingDecryptFailed:  "decrypt-failed",
	FindingBadRecord:      "bad-record",
	FindingWrongKey:       "wrong-key",
	FindingForeignStream:  "foreign-stream",
	FindingUnreadable:     "unreadable",
	FindingRecovered:      "recovered",
	FindingClock:          "clock",
}

func (v FindingKind) String() string {
	if s, ok := namesFindingKind[v]; ok {
		return s
	}
	return "FindingKind(" + strconv.Itoa(int(v)) + ")"
}

// Status is a blackbox report's verdict.
type Status int

const (
	StatusIntact     Status = 0
	StatusIncomplete Status = 1
	StatusDamaged    Status = 2
)

var namesStatus = map[Status]string{
	StatusIntact:     "intact",
	StatusIncomplete: "incomplete",
	StatusDamaged:    "damaged",
}

func (v Status) String() string {
	if s, ok := namesStatus[v]; ok {
		return s
	}
	return "Status(" + strconv.Itoa(int(v)) + ")"
}

// ReportCounter is a blackbox report's counter (SODA_BLACKBOX_REPORT_*).
type ReportCounter int

const (
	ReportFrames   ReportCounter = 1
	ReportBytes    ReportCounter = 2
	ReportStreams  ReportCounter = 3
	ReportSegments ReportCounter = 4
	ReportRecords  ReportCounter = 5
	ReportDropped  ReportCounter = 6
)

var namesReportCounter = map[ReportCounter]string{
	ReportFrames:   "frames",
	ReportBytes:    "bytes",
	ReportStreams:  "streams",
	ReportSegments: "segments",
	ReportRecords:  "records",
	ReportDropped:  "dropped",
}

func (v ReportCounter) String() string {
	if s, ok := namesReportCounter[v]; ok {
		return s
	}
	return "ReportCounter(" + strconv.Itoa(int(v)) + ")"
}

// ExportFormat is a blackbox export's format (SODA_BLACKBOX_EXPORT_*).
type ExportFormat int

const (
	ExportJSONL     ExportFormat = 1
	ExportAsciicast ExportFormat = 2
)

var namesExportFormat = map[ExportFormat]string{
	ExportJSONL:     "jsonl",
	ExportAsciicast: "asciicast",
}

func (v ExportFormat) String() string {
	if s, ok := namesExportFormat[v]; ok {
		return s
	}
	return "ExportFormat(" + strconv.Itoa(int(v)) + ")"
}

// GuestProfile is what root in the guest may do to the guest kernel
// (SODA_GUEST_PROFILE_*).
type GuestProfile int

const (
	GuestProfileLocked GuestProfile = 0
	GuestProfileOpen   GuestProfile = 1
)

var namesGuestProfile = map[GuestProfile]string{
	GuestProfileLocked: "locked",
	GuestProfileOpen:   "open",
}

func (v GuestProfile) String() string {
	if s, ok := namesGuestProfile[v]; ok {
		return s
	}
	return "GuestProfile(" + strconv.Itoa(int(v)) + ")"
}

// ShareFlags tune ServerConfig.AddShare (SODA_SHARE_*).
type ShareFlags uint

const (
	ShareReadOnly ShareFlags = 1 << 0
	// ShareAllowSensitive lets a share of a sensitive host directory (/,
	// /etc, the state directory...) through on purpose (libsoda 0.2).
	ShareAllowSensitive ShareFlags = 1 << 1
)

// RecordFlags are a blackbox record's flags (SODA_BLACKBOX_RECORD_F_*).
type RecordFlags uint32

const (
	RecordContinued RecordFlags = 0x01  // the body goes on in the stream's next record
	RecordForeign   RecordFlags = 0x100 // not the server's stream: someone else wrote to the line
	RecordTimeFar   RecordFlags = 0x200 // its time is far from the host's time of receipt
	RecordTimeBack  RecordFlags = 0x400 // its time went backwards in its stream
)

// Retention is what a server's blackbox store does at its quota
// (SODA_BLACKBOX_RETENTION_*).
type Retention int

const (
	RetentionStop       Retention = 0 // keep the old records, refuse new ones (declared)
	RetentionDropOldest Retention = 1 // delete whole oldest segments, with a record the verifier checks
)

var namesRetention = map[Retention]string{
	RetentionStop:       "stop",
	RetentionDropOldest: "drop-oldest",
}

func (v Retention) String() string {
	if s, ok := namesRetention[v]; ok {
		return s
	}
	return "Retention(" + strconv.Itoa(int(v)) + ")"
}

// IDSResponse is the automatic response to an alert (SODA_IDS_RESPONSE_*).
type IDSResponse int

const (
	IDSResponseNone   IDSResponse = 0
	IDSResponseFreeze IDSResponse = 1
	IDSResponseDump   IDSResponse = 2 // disk and memory into STATE/dumps; the server runs on
)

var namesIDSResponse = map[IDSResponse]string{
	IDSResponseNone:   "none",
	IDSResponseFreeze: "freeze",
	IDSResponseDump:   "dump",
}

func (v IDSResponse) String() string {
	if s, ok := namesIDSResponse[v]; ok {
		return s
	}
	return "IDSResponse(" + strconv.Itoa(int(v)) + ")"
}

// IDSStat is a port IDS counter (SODA_IDS_STAT_*).
type IDSStat int

const (
	IDSPackets    IDSStat = 1
	IDSBytes      IDSStat = 2
	IDSDrops      IDSStat = 3
	IDSAlerts     IDSStat = 4
	IDSAlertsLost IDSStat = 5
	IDSRules      IDSStat = 6
	IDSReloads    IDSStat = 7
	IDSFlows      IDSStat = 8
	IDSSealed     IDSStat = 9
	IDSLandlord   IDSStat = 10
	IDSResponses  IDSStat = 11
	IDSPID        IDSStat = 12
	// The flow bypass (ServerConfig.SetIDSBypass).
	IDSBypassedFlows   IDSStat = 13
	IDSBypassedPackets IDSStat = 14
	IDSBypassedBytes   IDSStat = 15
)

var namesIDSStat = map[IDSStat]string{
	IDSPackets: "packets", IDSBytes: "bytes", IDSDrops: "drops", IDSAlerts: "alerts",
	IDSAlertsLost: "alerts-lost", IDSRules: "rules", IDSReloads: "reloads", IDSFlows: "flows",
	IDSSealed: "sealed", IDSLandlord: "landlord", IDSResponses: "responses", IDSPID: "pid",
	IDSBypassedFlows: "bypassed-flows", IDSBypassedPackets: "bypassed-packets",
	IDSBypassedBytes: "bypassed-bytes",
}

func (v IDSStat) String() string {
	if s, ok := namesIDSStat[v]; ok {
		return s
	}
	return "IDSStat(" + strconv.Itoa(int(v)) + ")"
}
