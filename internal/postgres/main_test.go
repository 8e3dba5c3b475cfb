package postgres

import (
	"os"
	"testing"

	"github.com/parleyhq/parley/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
