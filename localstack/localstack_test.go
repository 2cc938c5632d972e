// Package localstack_test checks the Docker-based local setup without Docker:
// the init hooks and the repository's shell scripts pass shellcheck, the
// compose file parses and pins its images, the hooks are wired the way
// LocalStack runs them, and the sync function package builds.
package localstack_test

import (
	"archive/zip"
	"debug/elf"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/patientsync/patientsync/internal/samtemplate"
)

const root = ".."

// needTool finds a command; without it the test skips on a workstation but
// fails in CI, where .ci/run installs it.
func needTool(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing in CI: .ci/run must install it (%s)", name, install)
	}
	t.Skipf("%s not installed, check skipped: %s", name, install)
	return ""
}

func TestShellcheck(t *testing.T) {
	t.Parallel()
	sc := needTool(t, "shellcheck", "apt-get install -y shellcheck")
	tests := []struct {
		glob     string
		severity string // lowest severity that fails
	}{
		{"localstack/ready.d/*.sh", "style"},
		// The shared scripts are held to warnings and errors.
		{"scripts/*.sh", "warning"},
	}
	for _, tc := range tests {
		t.Run(tc.glob, func(t *testing.T) {
			t.Parallel()
			files, err := filepath.Glob(filepath.Join(root, tc.glob))
			if err != nil {
				t.Fatal(err)
			}
			if len(files) == 0 {
				t.Fatalf("no files match %s", tc.glob)
			}
			args := append([]string{"--severity=" + tc.severity, "--external-sources"}, files...)
			if out, err := exec.Command(sc, args...).CombinedOutput(); err != nil {
				t.Errorf("shellcheck %s: %v\n%s", tc.glob, err, out)
			}
		})
	}
}

// LocalStack runs executable *.sh files with a shebang from ready.d in name
// order, and (since 4.0) without default AWS credentials.
func TestReadyHooks(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(root, "localstack", "ready.d", "*"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	want := []string{"01-bucket.sh", "02-function.sh", "03-notification.sh"}
	if !slices.Equal(names, want) {
		t.Fatalf("ready.d holds %v, want %v in this order", names, want)
	}
	tests := []struct {
		file string
		must []string
	}{
		{"01-bucket.sh", []string{"create-bucket", "put-bucket-versioning", "Status=Enabled"}},
		{"02-function.sh", []string{
			"create-function", "--runtime provided.al2023", "--handler bootstrap",
			"/opt/patientsync/sync.zip", "DATABASE_URL", "AWS_S3_USE_PATH_STYLE",
			"lambda wait function-active-v2", "--maximum-retry-attempts 2",
		}},
		{"03-notification.sh", []string{
			"put-bucket-notification-configuration", "s3:ObjectCreated:*", "rule snapshot-json .json)",
			"rule snapshot-json-gz .json.gz)", "add-permission",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(root, "localstack", "ready.d", tc.file)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm()&0o111 != 0o111 {
				t.Errorf("mode %v: LocalStack only runs executable hooks (chmod +x)", fi.Mode())
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			src := string(b)
			if !strings.HasPrefix(src, "#!/bin/bash\n") {
				t.Error("first line must be the #!/bin/bash shebang")
			}
			for _, s := range append([]string{"set -euo pipefail", "AWS_ACCESS_KEY_ID=test"}, tc.must...) {
				if !strings.Contains(src, s) {
					t.Errorf("missing %q", s)
				}
			}
		})
	}
}

type compose struct {
	Name     string `yaml:"name"`
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Ports       []string          `yaml:"ports"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Healthcheck struct {
			Test     []string `yaml:"test"`
			Interval string   `yaml:"interval"`
			Timeout  string   `yaml:"timeout"`
			Retries  int      `yaml:"retries"`
		} `yaml:"healthcheck"`
		DependsOn map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	} `yaml:"services"`
	Networks map[string]struct {
		Name string `yaml:"name"`
	} `yaml:"networks"`
}

func loadCompose(t *testing.T) compose {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "localstack", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return c
}

func TestCompose(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	ls, ok := c.Services["localstack"]
	if !ok {
		t.Fatal("no localstack service")
	}
	pg, ok := c.Services["postgres"]
	if !ok {
		t.Fatal("no postgres service")
	}

	t.Run("images pinned", func(t *testing.T) {
		tests := []struct {
			image, repo string
			tag         *regexp.Regexp
		}{
			// latest needs LOCALSTACK_AUTH_TOKEN since March 2026: exact version.
			{ls.Image, "localstack/localstack", regexp.MustCompile(`^\d+\.\d+\.\d+$`)},
			{pg.Image, "postgres", regexp.MustCompile(`^15(\.\d+)?$`)},
		}
		for _, tc := range tests {
			repo, tag, _ := strings.Cut(tc.image, ":")
			if repo != tc.repo || !tc.tag.MatchString(tag) {
				t.Errorf("image %q: want %s:<pinned version matching %s>", tc.image, tc.repo, tc.tag)
			}
		}
	})

	t.Run("mounts", func(t *testing.T) {
		for _, want := range []string{
			"./ready.d:/etc/localstack/init/ready.d",
			"/var/run/docker.sock:/var/run/docker.sock",
			"../bin/localstack:/opt/patientsync",
		} {
			if !slices.ContainsFunc(ls.Volumes, func(v string) bool { return v == want || strings.HasPrefix(v, want+":") }) {
				t.Errorf("localstack volumes %v lack %s", ls.Volumes, want)
			}
		}
		// The mounted directory must exist next to compose.yaml.
		if fi, err := os.Stat(filepath.Join(root, "localstack", "ready.d")); err != nil || !fi.IsDir() {
			t.Errorf("localstack/ready.d: %v", err)
		}
	})

	t.Run("lambda network reaches postgres", func(t *testing.T) {
		net := ls.Environment["LAMBDA_DOCKER_NETWORK"]
		if net == "" || c.Networks["default"].Name != net {
			t.Errorf("LAMBDA_DOCKER_NETWORK %q must name the compose default network %q", net, c.Networks["default"].Name)
		}
		u, err := url.Parse(ls.Environment["PATIENTSYNC_DATABASE_URL"])
		if err != nil || u.Hostname() != "postgres" || u.Port() != "5432" || strings.Trim(u.Path, "/") != pg.Environment["POSTGRES_DB"] {
			t.Errorf("PATIENTSYNC_DATABASE_URL %q must point at the postgres service's database %q", ls.Environment["PATIENTSYNC_DATABASE_URL"], pg.Environment["POSTGRES_DB"])
		}
		if ls.DependsOn["postgres"].Condition != "service_healthy" {
			t.Error("localstack must wait for a healthy postgres")
		}
	})

	t.Run("services and ports", func(t *testing.T) {
		svcs := strings.Split(ls.Environment["SERVICES"], ",")
		for _, s := range []string{"s3", "lambda", "sqs", "iam", "logs"} {
			if !slices.Contains(svcs, s) {
				t.Errorf("SERVICES %v lacks %s", svcs, s)
			}
		}
		if !slices.Contains(ls.Ports, "127.0.0.1:4566:4566") {
			t.Errorf("localstack ports %v: want 127.0.0.1:4566:4566", ls.Ports)
		}
		if hc := strings.Join(ls.Healthcheck.Test, " "); !strings.Contains(hc, "/_localstack/init/ready") {
			t.Errorf("healthcheck %q should wait for the ready.d hooks", hc)
		}
	})
}

// env.json feeds `sam local start-api` and `sam local invoke`: functions of
// the template, only variables the template declares (SAM ignores the
// others), and a database the compose network can reach.
func TestSAMEnvVars(t *testing.T) {
	t.Parallel()
	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "localstack", "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]map[string]string
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("env.json: %v", err)
	}
	for id, vars := range env {
		if id == "Parameters" {
			continue
		}
		if tpl.Resources[id].Type != samtemplate.TypeFunction {
			t.Errorf("env.json names %s, which is not a function in template.yaml", id)
			continue
		}
		declared, _ := samtemplate.Get(tpl.FunctionProperties(id), "Environment", "Variables")
		for k, v := range vars {
			if _, ok := samtemplate.Get(declared, k); !ok {
				t.Errorf("%s.%s is not declared in template.yaml, so SAM would ignore it", id, k)
			}
			if k == "DATABASE_URL" {
				if u, err := url.Parse(v); err != nil || u.Hostname() != "postgres" {
					t.Errorf("%s.DATABASE_URL %q: want the compose service host postgres", id, v)
				}
			}
		}
	}
	for _, id := range []string{"PatientsFunction", "PaymentsFunction", "SyncsFunction", "PushFunction"} {
		if env[id]["DATABASE_URL"] == "" {
			t.Errorf("env.json has no DATABASE_URL for %s", id)
		}
	}
}

var hostMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// TestPackage builds the zip 02-function.sh deploys and checks that Lambda
// could run it: one executable bootstrap, static, for this machine.
func TestPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the sync function")
	}
	t.Parallel()
	needTool(t, "zip", "apt-get install -y zip")
	machine, ok := hostMachine[runtime.GOARCH]
	if !ok {
		t.Skipf("no Lambda architecture for %s", runtime.GOARCH)
	}
	dist := t.TempDir()
	out, err := exec.Command("make", "--no-print-directory", "-C", root, "localstack-package", "LOCALSTACK_DIST="+dist).CombinedOutput()
	if err != nil {
		t.Fatalf("make localstack-package: %v\n%s", err, out)
	}
	zr, err := zip.OpenReader(filepath.Join(dist, "sync.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" {
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		t.Fatalf("zip holds %v, want just bootstrap at the root", names)
	}
	zf := zr.File[0]
	if zf.Mode().Perm()&0o111 != 0o111 {
		t.Errorf("bootstrap mode %v in the zip: Lambda needs it executable", zf.Mode())
	}
	rc, err := zf.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tmp := filepath.Join(t.TempDir(), "bootstrap")
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, rc); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(tmp)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	if ef.Machine != machine || ef.Type != elf.ET_EXEC {
		t.Errorf("bootstrap is %v %v, want %v ET_EXEC", ef.Machine, ef.Type, machine)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("bootstrap is dynamically linked; build with CGO_ENABLED=0")
		}
	}
}
