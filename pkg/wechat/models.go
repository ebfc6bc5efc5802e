package wechat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// ChinaTime is the zone WeChat's naive timestamps are written in (UTC+8).
// It is a fixed zone so that no time zone database is needed at run time.
var ChinaTime = time.FixedZone("CST", 8*60*60)

// TimeLayout is the layout of the times in WeChat's answers.
const TimeLayout = "2006-01-02 15:04:05"

// Time is a timestamp from a WeChat answer. Raw keeps the string as sent;
// Time is its parsed form (zero when Raw is empty or does not parse).
// Naive times are read in [ChinaTime]; RFC 3339 times keep their offset.
type Time struct {
	Raw  string
	Time time.Time
}

// ParseTime parses a WeChat timestamp. It accepts "2006-01-02 15:04:05" in
// China time and RFC 3339; an empty string gives the zero Time.
func ParseTime(s string) (Time, error) {
	t := Time{Raw: s}
	if s == "" {
		return t, nil
	}
	if v, err := time.ParseInLocation(TimeLayout, s, ChinaTime); err == nil {
		t.Time = v
		return t, nil
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, fmt.Errorf("wechat: time %q is neither %q nor RFC 3339", s, TimeLayout)
	}
	t.Time = v
	return t, nil
}

// UnmarshalJSON reads a JSON string. A time that does not parse keeps its Raw
// form with a zero Time, so one odd field never loses a whole answer.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*t = Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("wechat: time is not a string: %w", err)
	}
	*t, _ = ParseTime(s)
	return nil
}

// MarshalJSON writes the time as WeChat sent it.
func (t Time) MarshalJSON() ([]byte, error) { return json.Marshal(t.Raw) }

// String returns the time as WeChat sent it.
func (t Time) String() string { return t.Raw }

// Environment statuses.
const (
	EnvNormal      = "NORMAL"      // available
	EnvUnavailable = "UNAVAILABLE" // not initialised yet, or initialising
	EnvHalted      = "HALTED"      // suspended: quota exceeded or banned
)

// Database statuses.
const (
	DatabaseInitializing = "INITIALIZING"
	DatabaseRunning      = "RUNNING"
	DatabaseUnusable     = "UNUSABLE"
	DatabaseOverdue      = "OVERDUE"
)

// Static storage statuses.
const (
	StaticStorageProcess = "process"
	StaticStorageOnline  = "online"
	StaticStorageOffline = "offline"
	StaticStorageInit    = "init"
)

// EnvInfoList is the answer of /tcb/getenvinfo.
type EnvInfoList struct {
	ErrCode  int       `json:"errcode"`
	ErrMsg   string    `json:"errmsg"`
	InfoList []EnvInfo `json:"info_list"`
}

// EnvInfo describes one cloud environment of an authorized mini program.
type EnvInfo struct {
	Env         string `json:"env"`
	Alias       string `json:"alias"`
	CreateTime  Time   `json:"create_time"`
	UpdateTime  Time   `json:"update_time"`
	Status      string `json:"status"`
	PackageID   string `json:"package_id"`
	PackageName string `json:"package_name"`
}

// RunEnvList is the answer of /componenttcb/describecloudbaserunenvs.
type RunEnvList struct {
	ErrCode int      `json:"errcode"`
	ErrMsg  string   `json:"errmsg"`
	EnvList []RunEnv `json:"env_list"`
}

// RunEnv describes one WeChat Cloud Run (CloudBase Run) environment.
type RunEnv struct {
	EnvID             string             `json:"env_id"`
	Source            string             `json:"source"` // "miniapp" or "qcloud"
	Alias             string             `json:"alias"`
	CreateTime        Time               `json:"create_time"`
	UpdateTime        Time               `json:"update_time"`
	Status            string             `json:"status"`
	Databases         []Database         `json:"databases"`
	Storages          []Storage          `json:"storages"`
	Functions         []Function         `json:"functions"`
	PackageID         string             `json:"package_id"`
	PackageName       string             `json:"package_name"`
	LogServices       []LogService       `json:"log_services"`
	StaticStorages    []StaticStorage    `json:"static_storages"`
	IsAutoDegrade     bool               `json:"is_auto_degrade"`
	EnvChannel        string             `json:"env_channel"`
	PayMode           string             `json:"pay_mode"` // "prepayment" or "postpaid"
	IsDefault         bool               `json:"is_default"`
	Region            string             `json:"region"`
	Tags              []Tag              `json:"tags"`
	CustomLogServices []CustomLogService `json:"custom_log_services"`
}

// Database is a database instance of an environment.
type Database struct {
	InstanceID string `json:"instance_id"`
	Status     string `json:"status"`
	Region     string `json:"region"`
}

// Storage is an object storage bucket of an environment.
type Storage struct {
	Region    string `json:"region"`
	Bucket    string `json:"bucket"`
	CDNDomain string `json:"cdn_domain"`
	AppID     string `json:"app_id"` // Tencent Cloud appId of the owner
}

// Function is a cloud function namespace of an environment.
type Function struct {
	Namespace string `json:"namespace"`
	Region    string `json:"region"`
}

// LogService is a Tencent Cloud Log Service (CLS) log set and topic.
type LogService struct {
	LogsetName string `json:"logset_name"`
	LogsetID   string `json:"logset_id"`
	TopicName  string `json:"topic_name"`
	TopicID    string `json:"topic_id"`
	Region     string `json:"region"`
}

// StaticStorage is the static website hosting of an environment.
type StaticStorage struct {
	StaticDomain   string `json:"static_domain"`
	DefaultDirName string `json:"default_dir_name"`
	Status         string `json:"status"`
	Region         string `json:"region"`
	Bucket         string `json:"bucket"`
}

// Tag is an environment label.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// CustomLogService is a user-configured CLS destination.
type CustomLogService struct {
	CLSRegion   string `json:"cls_region"`
	CLSLogsetID string `json:"cls_logset_id"`
	CLSTopicID  string `json:"cls_topic_id"`
	CreateTime  Time   `json:"create_time"`
}
