/* n90vmm: command line -> machine choice -> VM -> kernel -> devices -> vCPUs -> main loop
 * (console input, signals, timeout, stop requests) -> exit status. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "harness/client.h"
#include "vmm/cleanup.h"
#include "vmm/cli.h"
#include "vmm/console.h"
#include "vmm/control.h"
#include "vmm/crosvm_cli.h"
#include "vmm/exit_status.h"
#include "vmm/files.h"
#include "vmm/host_info.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/sandbox.h"
#include "vmm/vm.h"

/* Kernels and initrds above this are refused before they are read (a sanity bound, far
 * above any real kernel or test initramfs). */
#define MAX_IMAGE_BYTES (1ull << 30)

struct image {
	uint8_t *data;
	size_t size;
};

/* Reads a whole file; on failure prints one line and returns the exit status. Opened without
 * waiting (a FIFO would block open(2) until a writer came), then refused unless regular. */
static int read_image(const char *what, const char *path, struct image *img)
{
	struct stat st;
	int fd = file_open(path, O_RDONLY, 0, &st);
	if (fd < 0) {
		log_user("n90vmm: %s '%s': %s", what, path, strerror(-fd));
		return EXIT_NO_INPUT;
	}
	if (!S_ISREG(st.st_mode)) {
		log_user("n90vmm: %s '%s': is %s, not a file", what, path, file_kind(st.st_mode));
		close(fd);
		return EXIT_NO_INPUT;
	}
	file_set_blocking(fd);
	if (st.st_size == 0) {
		log_user("n90vmm: %s '%s': file is empty", what, path);
		close(fd);
		return EXIT_BAD_IMAGE;
	}
	if ((uint64_t)st.st_size > MAX_IMAGE_BYTES) {
		log_user("n90vmm: %s '%s': %lld bytes is more than the 1 GiB n90vmm accepts", what, path,
			 (long long)st.st_size);
		close(fd);
		return EXIT_BAD_IMAGE;
	}
	img->size = (size_t)st.st_size;
	img->data = malloc(img->size);
	if (!img->data) {
		close(fd);
		log_user("n90vmm: %s '%s': out of memory", what, path);
		return EXIT_SETUP;
	}
	size_t done = 0;
	while (done < img->size) {
		ssize_t n = read(fd, img->data + done, img->size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_user("n90vmm: %s '%s': read failed: %s", what, path, n ? strerror(errno) : "short file");
			close(fd);
			return EXIT_NO_INPUT;
		}
		done += (size_t)n;
	}
	close(fd);
	return 0;
}

struct main_loop {
	struct vm *vm;
	struct machine *machine;
	struct console *console;
	struct harness_session *harness; /* NULL unless --command / --script */
	int epoll_fd, signal_fd, timer_fd;
	double timeout_sec;
	uint8_t pending[8192]; /* console input the guest's FIFO could not take yet */
	size_t pending_len, pending_off;
	bool in_on, out_on; /* watching console input for reading, console output for room */
	int out_watched;    /* the console output fd watched apart from in_fd, or -1 */
	int linger_fd;      /* timerfd: drain the console again CONSOLE_LINGER_MS after it emptied */
	bool lingering;
	int control_fd;     /* --socket: the listener, or -1 */
	struct control_server control;
};

/* epoll tags: the low 8 bits; the control client's slot above them. */
enum loop_tag {
	TAG_STOP,
	TAG_SIGNAL,
	TAG_TIMER,
	TAG_STDIN,
	TAG_RX_READY,
	TAG_HARNESS,
	TAG_CONTROL,
	TAG_CONTROL_CONN,
	TAG_SERIAL_LISTEN,
	TAG_CONSOLE_OUT,   /* output was queued (the ring's eventfd) */
	TAG_CONSOLE_ROOM,  /* the console sink can take more */
	TAG_CONSOLE_LINGER,
};

static int loop_add(struct main_loop *l, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };
	return epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

/* What the loop waits for on the console's fds: input when the guest can take it, room when
 * queued output did not fit. A socket is input and output at once (one registration). */
static void console_watch(struct main_loop *l)
{
	int in = l->console->in_fd, out = console_output_fd(l->console);
	if (in >= 0) {
		struct epoll_event ev = { .events = (l->in_on ? EPOLLIN : 0) | (out == in && l->out_on ? EPOLLOUT : 0),
					  .data.u32 = TAG_STDIN };
		epoll_ctl(l->epoll_fd, EPOLL_CTL_MOD, in, &ev);
	}
	int want = out >= 0 && out != in && l->out_on ? out : -1;
	if (l->out_watched >= 0 && l->out_watched != want)
		epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, l->out_watched, NULL);
	if (want >= 0 && l->out_watched != want) {
		struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = TAG_CONSOLE_ROOM };
		epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, want, &ev);
	}
	l->out_watched = want;
}

static void stdin_watch(struct main_loop *l, bool on)
{
	l->in_on = on;
	console_watch(l);
}

/* Writes queued console output as far as the sink takes it, and waits for room if it did not.
 * Once it all went out, the loop comes back after CONSOLE_LINGER_MS instead of being woken by
 * the device's thread for every byte (vmm/console.h). */
static void drain_output(struct main_loop *l)
{
	bool blocked = console_drain(l->console);
	if (blocked != l->out_on) {
		l->out_on = blocked;
		console_watch(l);
	}
	if (!blocked && !l->lingering && console_output_fd(l->console) >= 0) {
		struct itimerspec its = { .it_value = { .tv_nsec = CONSOLE_LINGER_MS * 1000000L } };
		l->lingering = timerfd_settime(l->linger_fd, 0, &its, NULL) == 0;
	}
}

static void linger_over(struct main_loop *l)
{
	uint64_t count;
	if (read(l->linger_fd, &count, sizeof(count)) <= 0)
		return;
	l->lingering = false;
	if (!console_output_idle(l->console))
		drain_output(l);
}

/* Offers held-back input to the guest; reading stdin resumes once it is all taken. */
static void deliver_pending(struct main_loop *l)
{
	while (l->pending_off < l->pending_len) {
		size_t n = machine_console_input(l->machine, l->vm->cfg, l->pending + l->pending_off,
						 l->pending_len - l->pending_off);
		if (n == 0)
			break;
		l->pending_off += n;
	}
	stdin_watch(l, l->pending_off == l->pending_len);
}

/* Harness input for the guest: queued behind whatever is still pending. */
static void harness_send(void *ctx, const uint8_t *buf, size_t len)
{
	struct main_loop *l = ctx;
	if (l->pending_off == l->pending_len)
		l->pending_off = l->pending_len = 0;
	if (len > sizeof(l->pending) - l->pending_len) {
		memmove(l->pending, l->pending + l->pending_off, l->pending_len - l->pending_off);
		l->pending_len -= l->pending_off;
		l->pending_off = 0;
	}
	if (len > sizeof(l->pending) - l->pending_len)
		len = sizeof(l->pending) - l->pending_len; /* commands are bounded well below this */
	memcpy(l->pending + l->pending_len, buf, len);
	l->pending_len += len;
	deliver_pending(l);
}

static void handle_stdin(struct main_loop *l, uint32_t events)
{
	if (events & EPOLLOUT)
		drain_output(l); /* a socket sink: room for output */
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || l->console->in_fd < 0)
		return;
	uint8_t raw[255];
	bool quit;
	ssize_t n = read(l->console->in_fd, raw, sizeof(raw));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* EOF: the guest keeps running with no more input. A unix:PATH client is dropped
		 * (the next one may come); a unix-connect: socket stays the output's until a
		 * write to it fails. */
		epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, l->console->in_fd, NULL);
		console_input_closed(l->console);
		l->console->in_fd = -1;
		l->out_on = console_drain(l->console);
		console_watch(l);
		return;
	}
	l->pending_len = console_filter_input(l->console, raw, (size_t)n, l->pending, &quit);
	l->pending_off = 0;
	if (quit) {
		log_info("quit requested from the console (Ctrl-A x)");
		vm_request_stop(l->vm, VM_STOP_USER);
		return;
	}
	deliver_pending(l);
}

static void handle_control(struct main_loop *l, uint32_t tag)
{
	if ((tag & 0xff) == TAG_CONTROL) {
		/* Several may be waiting: take them all (a full house answers "error busy"). */
		int slot;
		while ((slot = control_server_accept(&l->control, harness_now_ms())) != -1)
			if (slot >= 0)
				loop_add(l, l->control.clients[slot].fd, TAG_CONTROL_CONN | (uint32_t)slot << 8);
		return;
	}
	if (control_server_serve(&l->control, tag >> 8) == CONTROL_STOP) {
		log_info("stop requested on the control socket");
		vm_request_stop(l->vm, VM_STOP_CONTROL);
	}
}

static void handle_signal(struct main_loop *l)
{
	struct signalfd_siginfo si;
	if (read(l->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		vm_request_stop(l->vm, VM_STOP_USER);
		log_info("received signal %u; stopping the guest", si.ssi_signo);
	}
}

/* The next epoll_wait timeout: the harness's next deadline or a control client's. */
static int loop_timeout_ms(struct main_loop *l)
{
	int t = l->harness ? harness_session_timeout_ms(l->harness) : -1;
	int c = control_server_expire(&l->control, harness_now_ms());
	if (c >= 0 && (t < 0 || c < t))
		t = c;
	return t;
}

/* Signals n90vmm ends the guest on, exit status 130 (docs/exit-codes.md); blocked in every
 * thread from the start and read from a signalfd by the main loop. */
static void stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
}

static int run_main_loop(struct main_loop *l)
{
	struct epoll_event events[8];
	sigset_t sigs;

	l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	stop_signals(&sigs);
	l->signal_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (l->epoll_fd < 0 || l->signal_fd < 0)
		return -errno;
	loop_add(l, l->vm->stop_fd, TAG_STOP);
	loop_add(l, l->signal_fd, TAG_SIGNAL);
	loop_add(l, l->console->rx_ready_fd, TAG_RX_READY);
	l->out_watched = -1;
	l->in_on = true;
	if (console_output_wake_fd(l->console) >= 0)
		loop_add(l, console_output_wake_fd(l->console), TAG_CONSOLE_OUT);
	l->linger_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (l->linger_fd < 0)
		return -errno;
	loop_add(l, l->linger_fd, TAG_CONSOLE_LINGER);
	if (l->console->in_fd >= 0) {
		/* Read only when epoll says so; stdin is also made non-blocking in case another
		 * reader of the same terminal gets there first. */
		if (!l->console->socket_input)
			fcntl(l->console->in_fd, F_SETFL, fcntl(l->console->in_fd, F_GETFL) | O_NONBLOCK);
		if (loop_add(l, l->console->in_fd, TAG_STDIN) < 0)
			l->console->in_fd = -1; /* e.g. a regular file: not pollable, so not read */
	}
	l->timer_fd = -1;
	if (l->timeout_sec > 0) {
		l->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		double t = l->timeout_sec;
		struct itimerspec its = { .it_value = { .tv_sec = (time_t)t, .tv_nsec = (long)((t - (double)(time_t)t) * 1e9) } };
		timerfd_settime(l->timer_fd, 0, &its, NULL);
		loop_add(l, l->timer_fd, TAG_TIMER);
	}

	if (l->harness)
		loop_add(l, l->harness->pipe_rd, TAG_HARNESS);
	control_server_init(&l->control, l->control_fd);
	if (l->control_fd >= 0)
		loop_add(l, l->control_fd, TAG_CONTROL);
	if (console_listen_fd(l->console) >= 0)
		loop_add(l, console_listen_fd(l->console), TAG_SERIAL_LISTEN);
	/* Everything the main loop needs is open: confine the thread before it touches guest
	 * data (console input and output, harness). */
	if (sandbox_enter(SANDBOX_MAIN) < 0)
		return -EPERM;
	drain_output(l); /* anything queued before the loop was watching */

	while (vm_stop_reason(l->vm) == VM_RUNNING) {
		int n = epoll_wait(l->epoll_fd, events, 8, loop_timeout_ms(l));
		if (l->harness && harness_session_tick(l->harness))
			vm_request_stop(l->vm, VM_STOP_HARNESS);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			uint32_t tag = events[i].data.u32;
			uint64_t count;
			switch (tag & 0xff) {
			case TAG_STOP:
				break; /* the while condition sees the reason */
			case TAG_SIGNAL:
				handle_signal(l);
				break;
			case TAG_TIMER:
				if (read(l->timer_fd, &count, sizeof(count)) > 0) {
					/* Stop first: the message goes to a stderr that may be slow. */
					vm_request_stop(l->vm, VM_STOP_TIMEOUT);
					log_user("n90vmm: timeout: guest still running after %g s; stopped", l->timeout_sec);
				}
				break;
			case TAG_STDIN:
				handle_stdin(l, events[i].events);
				break;
			case TAG_RX_READY:
				if (read(l->console->rx_ready_fd, &count, sizeof(count)) > 0)
					deliver_pending(l);
				break;
			case TAG_CONSOLE_OUT:
				if (read(console_output_wake_fd(l->console), &count, sizeof(count)) > 0)
					drain_output(l);
				break;
			case TAG_CONSOLE_ROOM:
				drain_output(l);
				break;
			case TAG_CONSOLE_LINGER:
				linger_over(l);
				break;
			case TAG_HARNESS:
				harness_session_read(l->harness, harness_send, l);
				if (harness_session_wants_stop(l->harness))
					vm_request_stop(l->vm, VM_STOP_HARNESS);
				break;
			case TAG_CONTROL:
			case TAG_CONTROL_CONN:
				handle_control(l, tag);
				break;
			case TAG_SERIAL_LISTEN: {
				int fd = console_accept_client(l->console);
				if (fd >= 0) {
					l->console->in_fd = fd;
					loop_add(l, fd, TAG_STDIN);
					stdin_watch(l, l->pending_off == l->pending_len);
					drain_output(l); /* the backlog, then live output */
				}
				break;
			}
			}
		}
	}
	control_server_close(&l->control);
	return 0;
}

static int run_vm(const struct vm_config *cfg)
{
	struct image kernel = { 0 }, initrd = { 0 };
	struct machine_choice choice;
	static struct machine machine;
	struct console console;
	static struct harness_session harness;
	bool harness_mode = false;
	struct vm vm;
	int status, control_fd = -1;
	char control_path[128] = "";

	if ((status = read_image("kernel", cfg->kernel_path, &kernel)))
		return status;
	if (cfg->initrd_path && (status = read_image("initrd", cfg->initrd_path, &initrd)))
		goto out_images;
	if ((status = arch_choose_machine(cfg, kernel.data, kernel.size, &choice)))
		goto out_images;

	/* Signals go to the main loop's signalfd; vCPU threads unblock only their kick signal.
	 * Until the loop runs nothing here waits (paths are opened with O_NONBLOCK), so a
	 * signal that arrives during setup is served as soon as it starts. */
	sigset_t block;
	stop_signals(&block);
	sigaddset(&block, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &block, NULL);

	/* Kernels load and backends open before /dev/kvm is touched, so a bad image or path
	 * fails the same way on any host. */
	memset(&machine, 0, sizeof(machine));
	machine.layout = &choice.layout;
	status = EXIT_SETUP;
	if (vm_create(&vm, cfg, choice.ncpus, &choice.layout) < 0 || arch_vm_alloc(&vm, &choice) < 0)
		goto out_vm;
	if ((status = arch_load_kernel(&vm, kernel.data, kernel.size, initrd.data, initrd.size)))
		goto out_vm;
	if ((status = machine_open_backends(&machine, &vm)))
		goto out_vm;
	/* Learns the host's KVM flavour; one warning line for Linux on kvm-pvm. */
	host_info_before_boot(kernel.data, kernel.size, cfg->kernel_path);
	status = EXIT_SETUP;
	if (vm_open_kvm(&vm, choice.vm_type) < 0 || arch_vm_init(&vm) < 0)
		goto out_vm;
	int console_out = STDOUT_FILENO;
	if (cfg->harness.ncommands > 0) {
		/* stdout carries the command's payload; the console goes to stderr or a file. */
		console_out = STDERR_FILENO;
		if (cfg->console_log) {
			/* Like --serial file:, a FIFO works only with a reader already there. */
			struct stat st;
			console_out = file_open(cfg->console_log, O_WRONLY | O_CREAT | O_TRUNC, 0644, &st);
			if (console_out < 0) {
				log_user("n90vmm: --console-log '%s': %s", cfg->console_log,
					 console_out == -ENXIO ? "a FIFO or socket nobody reads (n90vmm does not wait)"
							       : strerror(-console_out));
				status = EXIT_NO_INPUT;
				goto out_vm;
			}
			if (S_ISREG(st.st_mode))
				file_set_blocking(console_out);
		}
		if (harness_session_init(&harness, &cfg->harness) < 0) {
			log_user("n90vmm: cannot start the harness");
			goto out_vm;
		}
		harness_mode = true;
	}
	bool use_stdin = cfg->stdin_enabled && !harness_mode && !console_sink_has_input(&cfg->serial);
	if (console_init(&console, use_stdin ? STDIN_FILENO : -1, console_out) < 0) {
		log_err("cannot set up the console: %s", strerror(errno));
		goto out_vm;
	}
	/* Sockets are opened here, before any thread confines itself. */
	if ((status = console_attach_sink(&console, &cfg->serial)))
		goto out_console;
	status = EXIT_SETUP;
	if (cfg->control_socket) {
		char err[256];
		control_fd = control_listen(cfg->control_socket, control_path, sizeof(control_path), err, sizeof(err));
		if (control_fd < 0) {
			log_user("n90vmm: %s", err);
			status = control_fd == -EEXIST || control_fd == -ENAMETOOLONG ? EXIT_USAGE : EXIT_SETUP;
			goto out_console;
		}
	}
	if (control_fd >= 0)
		cleanup_add(control_path);
	if (console_socket_path(&console))
		cleanup_add(console_socket_path(&console));
	if (harness_mode) {
		console.tap = harness_session_tap;
		console.tap_opaque = &harness;
	}
	/* vCPUs before the virtio devices: an arm64 GIC is initialised only once every vCPU
	 * exists, and KVM takes irqfds only on an initialised interrupt controller. */
	if (arch_create_devices(&vm, &machine, &console) < 0 || vm_create_vcpus(&vm) < 0)
		goto out_console;
	for (unsigned int i = 0; i < vm.ncpus; i++)
		if (arch_vcpu_init(&vm, &vm.vcpus[i]) < 0)
			goto out_console;
	if (arch_vm_finalize(&vm) < 0 || machine_create_virtio(&machine, &vm, &console) < 0)
		goto out_console;
	free(kernel.data);
	free(initrd.data);
	kernel.data = initrd.data = NULL;

	/* The helper that removes the socket files at exit, however n90vmm exits: forked while
	 * the process is one thread, unconfined and outside any jail. */
	int cleanup_ret = cleanup_start();
	if (cleanup_ret < 0)
		log_warn("cannot start the socket cleanup helper: %s; socket files stay after a sandboxed exit",
			 strerror(-cleanup_ret));

	/* Everything is open: lock the process into its jail before any thread exists. */
	char jail_err[256];
	int jail_ret = sandbox_apply_jail(&cfg->jail, jail_err, sizeof(jail_err));
	if (jail_ret < 0) {
		log_err("%s", jail_err);
		status = jail_ret == -EPERM ? EXIT_NO_PERMISSION : EXIT_SETUP;
		goto out_console;
	}

	log_debug("starting %u vCPU(s)", vm.ncpus);
	if (vm_start(&vm) == 0) {
		struct main_loop loop = { .vm = &vm, .machine = &machine, .console = &console,
					  .harness = harness_mode ? &harness : NULL, .control_fd = control_fd,
					  .timeout_sec = cfg->timeout_sec };
		if (run_main_loop(&loop) < 0) {
			log_err("main loop failed: %s", strerror(errno));
			vm_request_stop(&vm, VM_STOP_SETUP_FAILED);
		}
	}
	vm_join(&vm);
	/* No thread writes to a disk or the console any more. */
	machine_sync_disks(&machine);
	console_flush(&console);
	log_limit_flush();
	enum vm_stop_reason reason = vm_stop_reason(&vm);
	status = vm_stop_exit_status(reason);
	log_debug("guest stopped: %s (exit status %d)", vm_stop_reason_name(reason), status);
	if (harness_mode) {
		/* Output written by the console thread before it stopped is still in the pipe. */
		harness_session_read(&harness, NULL, NULL);
		status = harness_session_finish(&harness, status);
	}
	if (cfg->stats) {
		vm_print_stats(&vm);
		arch_print_stats(&vm);
		machine_print_stats(&machine);
		console_print_stats(&console);
		log_limit_print_stats();
	}
	/* A unix: socket nobody connected to is what its user asked for: said only with -v. */
	if (console_dropped(&console))
		log_msg(console.listener ? LOG_INFO : LOG_WARN, "console: %llu bytes of guest output dropped: %s",
			(unsigned long long)console_dropped(&console),
			console.listener ? "no --serial unix: client took them, or it stopped reading"
					 : "the reader stopped reading, or fell 1 MiB behind");
out_console:
	console_detach_sink(&console);
	if (control_fd >= 0)
		close(control_fd);
	cleanup_run();
	console_restore();
out_vm:
	if (harness_mode)
		harness_session_destroy(&harness);
	machine_destroy(&machine);
	arch_vm_destroy(&vm);
	vm_destroy(&vm);
out_images:
	free(kernel.data);
	free(initrd.data);
	return status;
}

/* `n90vmm run ...` / `crosvm ...`: -1 to boot cfg, otherwise the exit status. */
static int crosvm_command(int argc, char **argv, struct vm_config *cfg)
{
	static struct crosvm_cli cc;
	switch (crosvm_cli_parse(argc, argv, cfg, &cc)) {
	case CROSVM_CMD_ERROR:
		log_user("n90vmm: %s", cc.err);
		return CROSVM_EXIT_INVALID_ARGS;
	case CROSVM_CMD_HELP:
		crosvm_cli_print_help();
		return 0;
	case CROSVM_CMD_VERSION:
		printf("n90vmm %s (crosvm compatibility mode)\n", N90VMM_VERSION);
		return 0;
	case CROSVM_CMD_STOP:
		signal(SIGPIPE, SIG_IGN);
		return control_send_stop(cc.stop_socket) == 0 ? CROSVM_EXIT_STOP : CROSVM_EXIT_FAILURE;
	case CROSVM_CMD_RUN:
		break;
	}
	for (unsigned int i = 0; i < cc.nwarnings && i < CROSVM_MAX_WARNINGS; i++)
		log_user("n90vmm: warning: %s", cc.warnings[i]);
	return -1;
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	char err[256];
	int status;

	log_init();
	if (crosvm_cli_applies(argc, argv)) {
		if ((status = crosvm_command(argc, argv, &cfg)) >= 0)
			return status;
		goto parsed;
	}
	/* What this host's KVM can do, as JSON (docs/testing.md); a report: exit 0 without KVM. */
	if (argc == 2 && strcmp(argv[1], "--host-info") == 0)
		return host_info_main();
	if (argc > 1 && strcmp(argv[1], "stop") == 0) {
		if (argc != 3) {
			log_user("n90vmm: usage: n90vmm stop SOCKET (the --socket path of the VM to stop)");
			return EXIT_USAGE;
		}
		/* Whatever the other end does, this process reports it in one line. */
		signal(SIGPIPE, SIG_IGN);
		status = control_send_stop(argv[2]);
		return status == 0 ? 0 : status == -EPROTO ? EXIT_PROTOCOL : EXIT_NO_INPUT;
	}
	/* `n90vmm harness ...`: the protocol client for another hypervisor; no VM here. */
	bool client = argc > 1 && strcmp(argv[1], "harness") == 0;
	enum cli_result parsed = client ? cli_parse_client(argc - 1, argv + 1, &cfg, err, sizeof(err))
					: cli_parse(argc, argv, &cfg, err, sizeof(err));
	if (client && parsed == CLI_RUN) {
		if (cfg.verbose)
			log_threshold = LOG_DEBUG;
		return harness_client_run(&cfg);
	}
	switch (parsed) {
	case CLI_HELP:
		cli_print_help();
		return 0;
	case CLI_VERSION:
		printf("n90vmm %s\n", N90VMM_VERSION);
		return 0;
	case CLI_FEATURES:
		cli_print_features();
		return 0;
	case CLI_ERROR:
		/* err quotes arguments: log_user escapes what they hold. */
		log_user("n90vmm: %s (try 'n90vmm --help')", err);
		return EXIT_USAGE;
	case CLI_RUN:
		break;
	}
parsed:
	if (cfg.verbose)
		log_threshold = LOG_DEBUG;
	sandbox_mode = cfg.sandbox;
	/* From here on no write to stderr waits long for its reader (docs/reliability.md). Not
	 * in harness-client mode: the program it launches inherits stderr. */
	signal(SIGPIPE, SIG_IGN);
	log_guard_stderr();
	if (sandbox_mode == SANDBOX_OFF)
		log_user("n90vmm: warning: --disable-sandbox: no seccomp filters; a guest that takes over a device "
			 "model has the whole process (debugging only)");
	/* glibc reads the zone file on the first time conversion (the CMOS RTC's gmtime_r):
	 * do it now, before the sandbox forbids open(). */
	tzset();
	status = run_vm(&cfg);
	return cfg.crosvm_exit_codes ? crosvm_exit_status(status) : status;
}
