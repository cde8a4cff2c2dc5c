# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= runs/demo-cartpole
# extras the tests exercise: MuJoCo tasks, TRPO (sb3-contrib), the Ray scheduler, PostgreSQL,
# Atari (ale-py, OpenCV) and MinAtar
EXTRAS ?= dev,mujoco,contrib,ray,postgres,atari,minatar

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint install clean-demo browser postgres bench-mujoco bench-minatar \
	bench-research bench-ablations bench-efficiency bench-methods bench-selectors bench-teachers

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[$(EXTRAS)]'
	touch $(STAMP)

install: $(STAMP) browser postgres

# The browser tests drive Debian's Chromium (no browser download ever). Installed here
# when missing and apt is available; otherwise those tests skip and say why.
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser tests"; \
		$(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium \
			|| echo "warning: could not install chromium; the browser tests will be skipped"; \
	fi

# The PostgreSQL store tests start a server of their own from Debian's binaries (initdb,
# pg_ctl; no system service is used). Installed here when missing and apt is available;
# otherwise those tests skip and say why.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's postgresql for the store tests"; \
		$(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q postgresql \
			|| echo "warning: could not install postgresql; the PostgreSQL tests will be skipped"; \
	fi

demo: $(STAMP)
	@if [ -d $(DEMO_DIR) ]; then \
		echo "$(DEMO_DIR) exists: evaluating it again (rm -r $(DEMO_DIR) to train afresh)"; \
	else \
		$(BIN)/rlhp train CartPole-v1 --labels 100 --timesteps 100000 --seed 0 --out $(DEMO_DIR); \
	fi
	$(BIN)/rlhp evaluate $(DEMO_DIR) --episodes 20
	$(BIN)/rlhp plot $(DEMO_DIR)
	$(BIN)/rlhp record $(DEMO_DIR) --episodes 1 --max-seconds 4 --fps 25 --out $(DEMO_DIR)/cartpole.gif

test: $(STAMP) browser postgres
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy

# Issue-4 acceptance grid (≈ 45 min on 2 idle cores with BENCH_FLAGS=--jobs 2; docs/benchmarks.md); resumable.
bench-mujoco: $(STAMP)
	$(BIN)/rlhp bench --tasks Hopper-v5 HalfCheetah-v5 --labels 700 --seeds 0 1 2 \
		--timesteps 300000 --algo ppo --out runs/bench-mujoco $(BENCH_FLAGS)

# Issue-10 MinAtar grid (pixels, the CNN reward; ≈ 75 min on 2 cores with BENCH_FLAGS=--jobs 2,
# which runs two cells side by side, so its wall ratios are contended; docs/benchmarks.md); resumable.
bench-minatar: $(STAMP)
	$(BIN)/rlhp bench --tasks MinAtar/Breakout-v1 MinAtar/SpaceInvaders-v1 MinAtar/Freeway-v1 \
		--labels 700 --seeds 0 1 2 --timesteps 500000 --algo ppo \
		--out benchmarks/results/minatar-2026-12-06 $(BENCH_FLAGS)

# Issue-13 research grids (docs/benchmarks.md, "Issue 13 — to run"). Every grid shares one
# --out, so a cell two grids have in common (the env-reward twins, the full method at
# 200 labels) runs once; each writes its own report under $(RESEARCH_OUT)/reports/. All
# resumable: run the same command again after an interruption. The grid lives in the
# repository: commit $(RESEARCH_OUT)/records (one small JSON per finished cell) and the
# reports as cells land, and a fresh clone continues where it stopped (run directories
# and logs are ignored). ≈ 5 min per Hopper run on 2 idle cores; BENCH_FLAGS=--jobs 2
# (or --ray) runs cells side by side.
RESEARCH_OUT ?= benchmarks/results/research
RESEARCH_TASKS ?= Hopper-v5
# rlhp's best configuration so far: the selectors grid's kcenter_entropy (3,187 ± 57 at
# 200 labels, 3 seeds, against the paper's disagreement 2,952 ± 426); SURF and RUNE did
# not beat the paper's method at 200 labels (docs/benchmarks.md)
BEST_SELECTOR ?= kcenter_entropy
RESEARCH := $(BIN)/rlhp bench --tasks $(RESEARCH_TASKS) --timesteps 300000 --algo ppo --out $(RESEARCH_OUT)

bench-research: bench-ablations bench-efficiency bench-methods bench-selectors bench-teachers

# the paper's ablation figure: 700 labels, 5 seeds, every ablation beside the full method
bench-ablations: $(STAMP)
	$(RESEARCH) --labels 700 --seeds 0 1 2 3 4 --report $(RESEARCH_OUT)/reports/ablations \
		--vary ablation=none,random_queries,no_ensemble,no_online_queries,no_l2,segment_length_1,regression $(BENCH_FLAGS)

# feedback efficiency: the paper's method (disagreement) and rlhp's best configuration over
# budgets; the 200-label cells of seeds 0-2 are the selectors grid's
bench-efficiency: $(STAMP)
	$(RESEARCH) --labels 50 100 200 350 700 --seeds 0 1 2 3 4 --report $(RESEARCH_OUT)/reports/efficiency \
		--vary selector=disagreement,$(BEST_SELECTOR) $(BENCH_FLAGS)

# each method of issue 13 item 4 alone at 200 labels
bench-methods: $(STAMP)
	$(RESEARCH) --labels 200 --seeds 0 1 2 3 4 --report $(RESEARCH_OUT)/reports/methods \
		--vary method=none,surf,rune $(BENCH_FLAGS)

# B-Pref's query selectors at 200 labels
bench-selectors: $(STAMP)
	$(RESEARCH) --labels 200 --seeds 0 1 2 --report $(RESEARCH_OUT)/reports/selectors \
		--vary selector=uniform,disagreement,entropy,kcenter,kcenter_disagreement,kcenter_entropy $(BENCH_FLAGS)

# B-Pref's noisy teachers with the best configuration at 350 labels
bench-teachers: $(STAMP)
	$(RESEARCH) --labels 350 --seeds 0 1 2 --report $(RESEARCH_OUT)/reports/teachers \
		--vary teacher=oracle,stoc,mistake,skip,equal,myopic --vary selector=$(BEST_SELECTOR) $(BENCH_FLAGS)
