package envflag_test

import (
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/shared/envflag"
)

func TestOneNamePerSetting(t *testing.T) {
	t.Run("the environment sets the default of the flag of the same name", func(t *testing.T) {
		t.Setenv("QUEUE_URL", "https://sqs/q")
		t.Setenv("STOP_TIMEOUT", "7s")
		fs := envflag.New("test")
		q := fs.String("QUEUE_URL", "", "")
		d := fs.Duration("STOP_TIMEOUT", time.Second, "")
		if err := fs.Parse(nil); err != nil {
			t.Fatal(err)
		}
		if *q != "https://sqs/q" || *d != 7*time.Second {
			t.Fatalf("got %q and %v", *q, *d)
		}
	})
	t.Run("a flag on the command line wins over the environment", func(t *testing.T) {
		t.Setenv("NEPTUNE_WRITERS", "4")
		fs := envflag.New("test")
		n := fs.Int("NEPTUNE_WRITERS", 8, "")
		if err := fs.Parse([]string{"-neptune-writers", "12"}); err != nil {
			t.Fatal(err)
		}
		if *n != 12 {
			t.Fatalf("got %d", *n)
		}
	})
	t.Run("an environment value that does not parse is an error naming it", func(t *testing.T) {
		t.Setenv("NEPTUNE_IAM_AUTH", "yes please")
		fs := envflag.New("test")
		fs.Bool("NEPTUNE_IAM_AUTH", false, "")
		if err := fs.Parse(nil); err == nil {
			t.Fatal("accepted")
		}
	})
}
