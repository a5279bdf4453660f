# du: one non-recursive Makefile.
#
#   make                 build libdu.a and the four tools into bin/
#   make check           unit tests (cmocka) + end-to-end tests (bats) against real servers
#   make docs            regenerate docs/CONFIG.md, man/*.1 and completion/du.bash from the option table
#   make fresh-check     the README's two commands on a brand-new Debian 12 root (debootstrap; root)
#   make demo            upload a generated sensor tree to a local s3rver + private PostgreSQL
#   make bench           benchmarks (not part of check; BENCH_ARGS="--runs 1 --update-docs"); make bench-smoke
#   make install         PREFIX=/usr/local DESTDIR= (MANDIR=$(PREFIX)/share/man)
#   make deb             build/du_VERSION_ARCH.deb (dpkg-deb)
#   make SANITIZE=address,undefined check
#   make WERROR=1        warnings are errors (CI sets this)

VERSION     := 0.1.0
PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      := $(PREFIX)/bin
DATADIR     := $(PREFIX)/share/du
MANDIR      ?= $(PREFIX)/share/man
MAN1DIR     := $(MANDIR)/man1
COMPDIR     := $(PREFIX)/share/bash-completion/completions

CC          ?= cc
PKGS        := libpq libcurl libcjson libxml-2.0 libcrypto libisal libexif
# Read when this make starts: check, demo and bench first install the -dev packages, then build in
# a make of their own, which reads them again (a fresh machine's first 'make check' works).
PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

CFLAGS      ?= -O2 -g
WARN        := -std=c11 -Wall -Wextra -Wshadow -Wformat=2 -Wno-missing-field-initializers -Wno-format-truncation
ifneq ($(WERROR)$(CI),)
WARN        += -Werror
endif
DU_CFLAGS   := $(WARN) -D_GNU_SOURCE -DDU_VERSION='"$(VERSION)"' \
               -Iinclude -Isrc $(PKG_CFLAGS) -pthread -MMD -MP
DU_LDFLAGS  := -pthread
ifdef SANITIZE
DU_CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
DU_LDFLAGS  += -fsanitize=$(SANITIZE)
OUT         := build/san
else
OUT         := build/std
endif

LIB_SRC     := $(sort $(wildcard src/*/*.c))
LIB_OBJ     := $(LIB_SRC:%.c=$(OUT)/%.o) $(OUT)/gen/migrations.o
TOOLS       := du-upload du-retry du-trigger du-master
TOOL_BIN    := $(TOOLS:%=$(OUT)/bin/%)
UNIT_SRC    := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN    := $(UNIT_SRC:tests/unit/%.c=$(OUT)/tests/%)
SQL         := $(sort $(wildcard sql/*.sql))
# The option table's generators (scripts/) and what they write (see docs below).
CONFIG_DOC  := $(OUT)/scripts/config-doc
GEN_BIN     := $(CONFIG_DOC) $(OUT)/scripts/man-page $(OUT)/scripts/bash-completion
MAN_PAGES   := $(TOOLS:%=man/%.1)
COMPLETION  := completion/du.bash

.PHONY: all check unit e2e deps demo bench bench-smoke install clean fuzz valgrind docs fresh-check deb
# Objects of the tools and tests are intermediate files to make; keep them so nothing rebuilds.
.SECONDARY:
all: bin

# bin/ always points at the flavour just built, so switching SANITIZE relinks nothing by accident.
.PHONY: bin
bin: $(TOOL_BIN) $(UNIT_BIN) $(GEN_BIN)
	@ln -sfn $(OUT)/bin bin

$(OUT)/libdu.a: $(LIB_OBJ)
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

# V=1 shows the commands.
Q           := $(if $(V),,@)

$(OUT)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(DU_CFLAGS) -c -o $@ $<

# Migrations are embedded at build time so an installed binary never needs sql/ to be found.
$(OUT)/gen/migrations.c: $(SQL) scripts/embed-sql.sh
	@mkdir -p $(@D)
	sh scripts/embed-sql.sh $(SQL) > $@
$(OUT)/gen/migrations.o: $(OUT)/gen/migrations.c
	$(Q)$(CC) $(CFLAGS) $(DU_CFLAGS) -c -o $@ $<

$(OUT)/bin/%: $(OUT)/tools/%.o $(OUT)/libdu.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(DU_LDFLAGS) -o $@ $< $(OUT)/libdu.a $(PKG_LIBS) -lm

$(OUT)/tests/%: $(OUT)/tests/unit/%.o $(OUT)/libdu.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(DU_LDFLAGS) -o $@ $< $(OUT)/libdu.a $(PKG_LIBS) $(CMOCKA_LIBS) -lm

# Fuzzing (libFuzzer, clang): the library rebuilt with clang into build/fuzz, each
# tests/fuzz/fuzz_NAME.c run FUZZ_SECONDS from tests/fuzz/corpus/NAME; fails on any finding.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 20
FUZZ_OUT     := build/fuzz
FUZZ_FLAGS   := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
               -Wno-unknown-warning-option
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_OUT)/%)
FUZZ_LIBOBJ  := $(LIB_SRC:%.c=$(FUZZ_OUT)/%.o) $(FUZZ_OUT)/gen/migrations.o
# -Werror is tuned to gcc's warnings; clang's extra ones are shown, not fatal, in the fuzz build.
FUZZ_CFLAGS  := $(filter-out -Werror,$(DU_CFLAGS))

fuzz: $(FUZZ_BIN)
	sh tests/fuzz/run.sh $(FUZZ_OUT) $(FUZZ_SECONDS)

$(FUZZ_OUT)/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(FUZZ_CFLAGS) -c -o $@ $<
$(FUZZ_OUT)/gen/migrations.o: $(OUT)/gen/migrations.c
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_CFLAGS) -c -o $@ $<
$(FUZZ_OUT)/libdu.a: $(FUZZ_LIBOBJ)
	@rm -f $@
	$(Q)$(AR) rcs $@ $^
$(FUZZ_OUT)/fuzz_%: $(FUZZ_OUT)/tests/fuzz/fuzz_%.o $(FUZZ_OUT)/libdu.a
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -pthread -o $@ $< $(FUZZ_OUT)/libdu.a $(PKG_LIBS) -lm

# Memcheck over the unit tests and one end-to-end upload (tests/valgrind.sh).
valgrind: bin
	bash tests/valgrind.sh $(OUT)

deps:
	sh scripts/deps.sh

# The build runs in a make of its own, started after deps are in place (see PKG_CFLAGS).
SUBMAKE     = $(MAKE) --no-print-directory

check: deps-quiet
	$(SUBMAKE) bin
	bash tests/run-unit.sh $(OUT)/tests
	bash tests/run-e2e.sh

unit: bin
	bash tests/run-unit.sh $(OUT)/tests

e2e: bin
	bash tests/run-e2e.sh

.PHONY: deps-quiet
deps-quiet:
	@sh scripts/deps.sh --if-missing

demo: deps-quiet
	$(SUBMAKE) bin
	bash scripts/demo.sh

fresh-check:
	bash scripts/fresh-check.sh

# bench/scan_bench.c drives the du_scan API directly (scan speed and RSS without the rest of du).
SCAN_BENCH  := $(OUT)/bench/scan_bench
.PHONY: bench/scan_bench
bench/scan_bench: $(SCAN_BENCH)
$(SCAN_BENCH): $(OUT)/bench/scan_bench.o $(OUT)/libdu.a
	$(Q)$(CC) $(DU_LDFLAGS) -o $@ $< $(OUT)/libdu.a $(PKG_LIBS) -lm

bench: deps-quiet
	$(SUBMAKE) bin $(SCAN_BENCH)
	bash bench/run.sh $(BENCH_ARGS)

bench-smoke: bin $(SCAN_BENCH)
	bash bench/run.sh --smoke

# One completion script serves the four tools; bash-completion looks a command's up by its name.
install: bin
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(MAN1DIR) $(DESTDIR)$(COMPDIR)
	install -m 755 $(TOOL_BIN) $(DESTDIR)$(BINDIR)/
	install -m 644 config.example.json .env.example $(DESTDIR)$(DATADIR)/
	install -m 644 $(MAN_PAGES) $(DESTDIR)$(MAN1DIR)/
	install -m 644 $(COMPLETION) $(DESTDIR)$(COMPDIR)/du-upload
	for t in du-retry du-trigger du-master; do ln -sfn du-upload $(DESTDIR)$(COMPDIR)/$$t || exit 1; done

# make deb: build/du_VERSION_ARCH.deb of the flavour just built: make install under /usr into a
# staging root, then scripts/deb.sh (Depends from dpkg-shlibdeps, dpkg-deb --root-owner-group).
DEB_STAGE   := build/deb
deb: bin
	rm -rf $(DEB_STAGE)
	$(SUBMAKE) install PREFIX=/usr DESTDIR=$(CURDIR)/$(DEB_STAGE)/debian/du >/dev/null
	bash scripts/deb.sh $(VERSION) $(DEB_STAGE) build

# docs/CONFIG.md, man/*.1 and completion/du.bash are written from the option table itself, by
# the generators in scripts/ (the unit test and tests/e2e/97-packaging.bats fail when they drift).
$(GEN_BIN): $(OUT)/scripts/%: $(OUT)/scripts/%.o $(OUT)/libdu.a
	$(Q)$(CC) $(DU_LDFLAGS) -o $@ $< $(OUT)/libdu.a $(PKG_LIBS) -lm
docs: $(GEN_BIN)
	$(CONFIG_DOC) >docs/CONFIG.md
	for t in $(TOOLS); do $(OUT)/scripts/man-page $$t >man/$$t.1 || exit 1; done
	$(OUT)/scripts/bash-completion >$(COMPLETION)

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
