// Command composecheck loads and validates a Compose file with the Compose
// specification's own Go loader (compose-go), without any container engine.
//
// It is braid's end-to-end harness's check of a generated docker-compose.yml:
// the file must load (schema, interpolation, `extends`, env files), and on top
// of what the loader checks, every build context and Dockerfile must exist and
// every `depends_on` must name a service. It prints a JSON summary on stdout
// (services, their healthchecks, dependencies, environment and stop grace
// periods) for the harness to assert on,
// and exits 1 with the loader's error on stderr when the file is invalid.
//
// Usage: composecheck [-f docker-compose.yml]... [-env-file .env.example] [DIR]
//
// Several -f merge as docker compose merges them (an override file last).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

type serviceSummary struct {
	Name        string            `json:"name"`
	Image       string            `json:"image,omitempty"`
	Build       string            `json:"build,omitempty"`
	Dockerfile  string            `json:"dockerfile,omitempty"`
	Healthcheck bool              `json:"healthcheck"`
	DependsOn   map[string]string `json:"depends_on"`
	Ports       []string          `json:"ports"`
	// The healthcheck's test (["CMD", ...] or ["CMD-SHELL", "..."]), if any.
	HealthcheckTest []string `json:"healthcheck_test"`
	// The environment the container gets: env_file entries, then `environment:`.
	Environment map[string]string `json:"environment"`
	// stop_grace_period in seconds; null when unset (Docker's default: 10 s).
	StopGracePeriod *float64 `json:"stop_grace_period"`
}

type summary struct {
	Name     string           `json:"name"`
	Services []serviceSummary `json:"services"`
}

// files is the -f flag: one or more compose files, in order.
type files []string

func (f *files) String() string { return strings.Join(*f, ",") }

func (f *files) Set(v string) error {
	*f = append(*f, v)
	return nil
}

func main() {
	var composeFiles files
	flag.Var(&composeFiles, "f", "compose file, relative to DIR (default docker-compose.yml; repeat to merge overrides)")
	envFile := flag.String("env-file", "", "env file to use instead of DIR/.env (e.g. .env.example)")
	flag.Parse()
	if len(composeFiles) == 0 {
		composeFiles = files{"docker-compose.yml"}
	}
	dir := "."
	if flag.NArg() > 0 {
		dir = flag.Arg(0)
	}
	if err := run(dir, composeFiles, *envFile); err != nil {
		fmt.Fprintln(os.Stderr, "composecheck:", err)
		os.Exit(1)
	}
}

func run(dir string, composeFiles []string, envFile string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	fns := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(dir),
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true),
	}
	if envFile != "" {
		fns = append(fns, cli.WithEnvFiles(filepath.Join(dir, envFile)))
	} else {
		fns = append(fns, cli.WithEnvFiles()) // DIR/.env when there is one, as docker compose does
	}
	fns = append(fns, cli.WithDotEnv)
	paths := make([]string, len(composeFiles))
	for i, f := range composeFiles {
		paths[i] = filepath.Join(dir, f)
	}
	opts, err := cli.NewProjectOptions(paths, fns...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	project, err := opts.LoadProject(ctx)
	if err != nil {
		return err
	}
	return report(project)
}

func report(project *types.Project) error {
	out := summary{Name: project.Name}
	var problems []string
	names := project.ServiceNames()
	sort.Strings(names)
	for _, name := range names {
		svc := project.Services[name]
		s := serviceSummary{
			Name:        name,
			Image:       svc.Image,
			Healthcheck: svc.HealthCheck != nil && !svc.HealthCheck.Disable,
			DependsOn:   map[string]string{},
			Ports:       []string{},
			Environment: map[string]string{},
		}
		if s.Healthcheck {
			s.HealthcheckTest = svc.HealthCheck.Test
		}
		for k, v := range svc.Environment {
			if v != nil {
				s.Environment[k] = *v
			}
		}
		if svc.StopGracePeriod != nil {
			secs := time.Duration(*svc.StopGracePeriod).Seconds()
			s.StopGracePeriod = &secs
		}
		if svc.Build != nil {
			s.Build = svc.Build.Context
			s.Dockerfile = svc.Build.Dockerfile
			if st, err := os.Stat(svc.Build.Context); err != nil || !st.IsDir() {
				problems = append(problems, fmt.Sprintf("service %q: build context %s does not exist", name, svc.Build.Context))
			} else {
				df := svc.Build.Dockerfile
				if df == "" {
					df = "Dockerfile"
				}
				if !filepath.IsAbs(df) {
					df = filepath.Join(svc.Build.Context, df)
				}
				if _, err := os.Stat(df); err != nil {
					problems = append(problems, fmt.Sprintf("service %q: Dockerfile %s does not exist", name, df))
				}
			}
		}
		for dep, cfg := range svc.DependsOn {
			if _, ok := project.Services[dep]; !ok {
				problems = append(problems, fmt.Sprintf("service %q depends on unknown service %q", name, dep))
			}
			s.DependsOn[dep] = cfg.Condition
		}
		for _, p := range svc.Ports {
			s.Ports = append(s.Ports, fmt.Sprintf("%s:%s->%d/%s", p.HostIP, p.Published, p.Target, p.Protocol))
		}
		out.Services = append(out.Services, s)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "composecheck:", p)
		}
		return fmt.Errorf("%d problem(s)", len(problems))
	}
	return nil
}
