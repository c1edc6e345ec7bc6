// Package envflag gives every setting one name: a flag whose default comes
// from the environment variable of the same name, so QUEUE_URL=... and
// -queue-url ... mean the same thing, as in the README and the ECS task
// definitions. A flag given on the command line wins over the environment.
package envflag

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// FlagName turns an environment name into its flag: QUEUE_URL -> queue-url.
func FlagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(env), "_", "-")
}

// Set is a flag.FlagSet that registers settings by environment name and
// remembers environment values it could not parse.
type Set struct {
	*flag.FlagSet
	errs []error
}

// New returns a Set for the named program.
func New(program string) *Set {
	return &Set{FlagSet: flag.NewFlagSet(program, flag.ContinueOnError)}
}

func (s *Set) usage(env, usage string) string {
	return fmt.Sprintf("%s (env %s)", usage, env)
}

// String registers a string setting.
func (s *Set) String(env, def, usage string) *string {
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	return s.FlagSet.String(FlagName(env), def, s.usage(env, usage))
}

// Int registers an int setting.
func (s *Set) Int(env string, def int, usage string) *int {
	if v, ok := os.LookupEnv(env); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not a whole number", env, v))
		} else {
			def = n
		}
	}
	return s.FlagSet.Int(FlagName(env), def, s.usage(env, usage))
}

// Bool registers a bool setting.
func (s *Set) Bool(env string, def bool, usage string) *bool {
	if v, ok := os.LookupEnv(env); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not true or false", env, v))
		} else {
			def = b
		}
	}
	return s.FlagSet.Bool(FlagName(env), def, s.usage(env, usage))
}

// Duration registers a duration setting ("30s", "1m").
func (s *Set) Duration(env string, def time.Duration, usage string) *time.Duration {
	if v, ok := os.LookupEnv(env); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not a duration such as 30s", env, v))
		} else {
			def = d
		}
	}
	return s.FlagSet.Duration(FlagName(env), def, s.usage(env, usage))
}

// Parse parses args and reports environment values that did not parse too.
func (s *Set) Parse(args []string) error {
	if err := s.FlagSet.Parse(args); err != nil {
		return err
	}
	if len(s.errs) > 0 {
		return fmt.Errorf("bad environment: %w", joinErrs(s.errs))
	}
	return nil
}

func joinErrs(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}
