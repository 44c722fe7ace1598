# connctl: `make` builds the agent and the CLI into build/; `make run` starts
# the agent; `make test` runs every test; `make bench` the benchmarks. Both install missing Debian packages
# first (scripts/deps.sh), so each works as one command on a bare machine.

BUILD		:= build
OBJ		:= $(BUILD)/obj
CC		?= gcc
CLANG		?= clang
BPFTOOL		?= bpftool
LLVM_STRIP	?= llvm-strip
ARCH		:= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

CFLAGS		?= -O2 -g
CFLAGS		+= -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter \
		   -Iinclude -Iuser -I$(BUILD) -MMD -MP
LDLIBS		:= -lbpf -lelf -lz -ljansson -pthread
BPF_CFLAGS	:= -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall \
		   -Iinclude -Ibpf -I$(BUILD) -MMD -MP

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# The version: the release, and the commit built from when there is one.
VERSION_BASE	:= 0.5.0
VERSION		?= $(VERSION_BASE)$(shell git rev-parse --short HEAD 2>/dev/null | sed 's/^/+git./')

BPF_PROGS	:= sockops cgroup_skb sock_addr iter tc xdp recv conns owners
BPF_OBJS	:= $(BPF_PROGS:%=$(BUILD)/%.bpf.o)
SKELS		:= $(BPF_PROGS:%=$(BUILD)/%.skel.h)

# The agent in layers, each using only those before it (tests/check_layers.sh):
# base, sys, kernel, engine, front; connctld.c wires them. The CLI is alone.
BASE_SRCS	:= $(wildcard user/base/*.c)
SYS_SRCS	:= $(wildcard user/sys/*.c)
KERNEL_SRCS	:= $(wildcard user/kernel/*.c)
ENGINE_SRCS	:= $(wildcard user/engine/*.c)
FRONT_SRCS	:= $(wildcard user/front/*.c)
AGENT_SRCS	:= $(BASE_SRCS) $(SYS_SRCS) $(KERNEL_SRCS) $(ENGINE_SRCS) $(FRONT_SRCS) \
		   user/connctld.c
CLI_SRCS	:= $(wildcard user/cli/*.c)
# What the unit tests link: the layers without the kernel.
UNIT_LIB_SRCS	:= $(BASE_SRCS) $(SYS_SRCS) user/engine/rule_table.c user/engine/tracked.c \
		   user/engine/rule_spec.c user/engine/bus.c \
		   user/engine/journal.c user/front/protocol.c
UNIT_SRCS	:= $(wildcard tests/unit/*.c)
# The engines alone: the layers below faked (tests/unit/fakes), a sink on the bus.
FAKE_KERNEL	:= tests/unit/fakes/kernel.c
FAKE_SYS	:= tests/unit/fakes/sys.c
RULEBOOK_TEST_SRCS := $(BASE_SRCS) $(SYS_SRCS) $(FAKE_KERNEL) user/engine/rulebook.c \
		   user/engine/rule_table.c user/engine/rule_spec.c user/engine/journal.c \
		   user/engine/bus.c
DRAINER_TEST_SRCS := $(BASE_SRCS) $(FAKE_KERNEL) $(FAKE_SYS) user/engine/drainer.c \
		   user/engine/tracked.c user/engine/bus.c

obj = $(patsubst %.c,$(OBJ)/%.o,$(1))
AGENT_OBJS	:= $(call obj,$(AGENT_SRCS))
CLI_OBJS	:= $(call obj,$(CLI_SRCS))
UNIT_BINS	:= $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps run test bench fuzz asan clean install demo static image deb FORCE

all: $(BUILD)/connctld $(BUILD)/connctl

deps:
	$(Q)scripts/deps.sh

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(BUILD)/connctld $(ARGS)

# The product at work, in a namespace of its own, removed afterwards.
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BINS) $(BUILD)/clients/goclient \
		$(BUILD)/asan/connctld static image deb
	$(Q)tests/run.sh

# Each benchmark prints a table: connctl beside its peer, measured in one run.
bench: deps
	$(Q)$(MAKE) --no-print-directory all $(BUILD)/clients/goclient $(BUILD)/clients/rule_adds $(BUILD)/clients/durable_echo \
		$(BUILD)/clients/conn_rate $(BUILD)/clients/owner_walk $(BUILD)/clients/empty_skb.bpf.o
	$(Q)for b in bench/*.sh; do "$$b" 2>/dev/null || exit 1; done

# Clients that cost next to nothing themselves (bench/control_plane.sh, bench/scale.sh).
$(BUILD)/clients/rule_adds: bench/lib/rule_adds.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $<

$(BUILD)/clients/conn_rate: bench/lib/conn_rate.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $<

# The disk's ceiling for a waiting client, beside the agent (bench/control_plane.sh).
$(BUILD)/clients/durable_echo: bench/lib/durable_echo.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $<

# The kernel's cgroup_skb hook with nothing in it, under connctl's hold (bench/scale.sh).
$(BUILD)/clients/empty_skb.bpf.o: bench/lib/empty_skb.bpf.c $(BUILD)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# The agent's two walks for owners, side by side (bench/owner_walk.sh).
$(BUILD)/clients/owner_walk: $(OBJ)/bench/lib/owner_walk.o $(OBJ)/user/kernel/owner_walk.o \
		$(call obj,$(BASE_SRCS) $(SYS_SRCS))
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $^ -lbpf -lelf -lz -o $@
$(OBJ)/bench/lib/owner_walk.o: | $(SKELS)

# Go net/http, a real client for the drain tests and benches; Go's caches stay in build/.
$(BUILD)/clients/goclient: tests/e2e/goclient/main.go
	$(call msg,GO,$@)
	$(Q)GOCACHE=$(abspath $(BUILD))/go/cache GOPATH=$(abspath $(BUILD))/go GO111MODULE=off \
		GOFLAGS= go build -o $@ ./tests/e2e/goclient

$(BUILD)/vmlinux.h:
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

# DWARF off: the BTF the loader needs stays, and the agent embeds (and
# reads at start) a seventh of the bytes.
$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BUILD)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

# BPF logic under test: syscall programs over the same headers (tests/bpf).
$(BUILD)/logic_test.bpf.o: tests/bpf/logic_test.bpf.c $(BUILD)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# Rewritten only when the version changes, so only what shows it rebuilds.
$(BUILD)/version.h: FORCE
	$(Q)mkdir -p $(@D)
	$(Q)echo '#define CONNCTL_VERSION "$(VERSION)"' >$@.new
	$(Q)cmp -s $@.new $@ && rm $@.new || mv $@.new $@

$(OBJ)/user/connctld.o $(OBJ)/user/cli/connctl.o $(BUILD)/asan/user/connctld.o: $(BUILD)/version.h

# Every agent object may include a skeleton: generate them first.
$(AGENT_OBJS): | $(SKELS)

$(OBJ)/%.o: %.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/connctld: $(AGENT_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

# The CLI speaks JSON over a socket: jansson is all it links.
$(BUILD)/connctl: $(CLI_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -ljansson -o $@

$(BUILD)/tests/test_rulebook: $(OBJ)/tests/unit/test_rulebook.o $(call obj,$(RULEBOOK_TEST_SRCS))
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $^ -ljansson -lcmocka -o $@

$(BUILD)/tests/test_drainer: $(OBJ)/tests/unit/test_drainer.o $(call obj,$(DRAINER_TEST_SRCS))
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $^ -ljansson -lcmocka -o $@

# The connection index's table alone (kernel/conns.c), no kernel side.
$(OBJ)/tests/unit/test_conns.o: | $(SKELS)
$(BUILD)/tests/test_conns: $(OBJ)/tests/unit/test_conns.o $(OBJ)/user/kernel/conns.o \
		$(call obj,$(BASE_SRCS))
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $^ -lbpf -lelf -lz -lcmocka -o $@

# The owners iterator beside a walk of /proc.
$(OBJ)/tests/unit/test_owner_walk.o: | $(SKELS)
$(BUILD)/tests/test_owner_walk: $(OBJ)/tests/unit/test_owner_walk.o \
		$(OBJ)/user/kernel/owner_walk.o $(call obj,$(BASE_SRCS) $(SYS_SRCS))
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $^ -lbpf -lelf -lz -lcmocka -o $@

# bpf_prog_test_run on the kernel side's logic: the match, the drain
# judgement, tc's classification of packets.
$(OBJ)/tests/unit/test_bpf_logic.o: $(BUILD)/logic_test.skel.h $(BUILD)/tc.skel.h
$(BUILD)/tests/test_bpf_logic: $(OBJ)/tests/unit/test_bpf_logic.o
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $^ -lbpf -lelf -lz -lcmocka -o $@

$(BUILD)/tests/%: $(OBJ)/tests/unit/%.o $(call obj,$(UNIT_LIB_SRCS))
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -lcmocka -o $@

# libFuzzer over the request parser and the state file reader, FUZZ_SECONDS
# long, from the seeds in tests/fuzz/corpus (new inputs go to build/fuzz).
FUZZ_SECONDS	?= 60
FUZZ_SRCS	:= tests/fuzz/fuzz_request.c $(UNIT_LIB_SRCS)
SAN_CFLAGS	:= -g -O1 -fno-omit-frame-pointer -std=gnu11 -D_GNU_SOURCE -Wall -Wextra \
		   -Wno-unused-parameter -Iinclude -Iuser -I$(BUILD)

$(BUILD)/fuzz/fuzz_request: $(FUZZ_SRCS) $(wildcard user/*/*.h include/*.h)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(SAN_CFLAGS) -fsanitize=fuzzer,address,undefined $(FUZZ_SRCS) \
		-ljansson -lbpf -o $@

fuzz: deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/fuzz/fuzz_request
	$(Q)mkdir -p $(BUILD)/fuzz/corpus
	$(Q)cp -n tests/fuzz/corpus/* $(BUILD)/fuzz/corpus/
	$(BUILD)/fuzz/fuzz_request -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
		-print_final_stats=1 $(BUILD)/fuzz/corpus

# The agent under AddressSanitizer (and its leak checker), for tests/e2e/test_asan.sh.
ASAN_OBJ	:= $(BUILD)/asan
asan: $(BUILD)/asan/connctld

$(ASAN_OBJ)/%.o: %.c | $(SKELS)
	$(call msg,CC-ASAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN_CFLAGS) -MMD -MP -fsanitize=address -c $< -o $@

$(BUILD)/asan/connctld: $(patsubst %.c,$(ASAN_OBJ)/%.o,$(AGENT_SRCS))
	$(call msg,LD-ASAN,$@)
	$(Q)$(CC) -fsanitize=address $^ $(LDLIBS) -o $@

# connctld and connctl linked statically, stripped, the BPF objects inside
# as always: they run on any x86-64 Linux with BTF, with no libraries.
STATIC		:= $(BUILD)/static
static: $(STATIC)/connctld $(STATIC)/connctl

$(STATIC)/connctld: $(AGENT_OBJS)
	$(call msg,LD-STATIC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -static $^ $(LDLIBS) -o $@
	$(Q)strip $@

$(STATIC)/connctl: $(CLI_OBJS)
	$(call msg,LD-STATIC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -static $^ -ljansson -o $@
	$(Q)strip $@

# An OCI image of the static binaries (no base image, no registry): the
# layout in build/image, an archive of it in build/connctl-image.tar.
IMAGE_TAG	:= $(VERSION_BASE)
image: static
	$(call msg,IMAGE,$(BUILD)/image)
	$(Q)scripts/image.sh $(BUILD) $(VERSION) $(IMAGE_TAG) >/dev/null

# A Debian package: binaries, man pages, the unit, completion; starts nothing.
deb: all
	$(call msg,DEB,$(BUILD)/connctl_$(DEB_VERSION)_*.deb)
	$(Q)rm -f $(BUILD)/connctl_*.deb
	$(Q)scripts/deb.sh $(BUILD) $(DEB_VERSION) >/dev/null
DEB_VERSION	:= $(subst +git.,+git,$(VERSION))

# Binaries, man pages and the systemd unit (started from $(PREFIX)/sbin).
PREFIX		?= /usr/local
UNITDIR		?= /etc/systemd/system
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0644 scripts/connctl.bash \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/connctl
	install -m 0755 $(BUILD)/connctld $(BUILD)/connctl $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 man/connctl.8 man/connctld.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	sed 's|/usr/local/sbin/|$(PREFIX)/sbin/|' scripts/connctld.service \
		>$(DESTDIR)$(UNITDIR)/connctld.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/connctld.service

clean:
	$(call msg,CLEAN,$(BUILD))
	$(Q)rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
