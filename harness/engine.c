#include "harness/engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PROMPT "starry:~# "
#define COMPAT_MARKER "__EXIT:"
#define MAX_COMMAND_LEN 4096

int harness_init(struct harness_engine *h, const struct harness_config *cfg, uint64_t now_ms)
{
	memset(h, 0, sizeof(*h));
	if (!cfg->commands || cfg->ncommands == 0 || cfg->ncommands > HARNESS_MAX_COMMANDS)
		return -EINVAL;
	for (unsigned int i = 0; i < cfg->ncommands; i++)
		if (!cfg->commands[i].text || strlen(cfg->commands[i].text) > MAX_COMMAND_LEN ||
		    strchr(cfg->commands[i].text, '\n'))
			return -EINVAL;
	h->cfg = *cfg;
	if (!h->cfg.prompt || !*h->cfg.prompt)
		h->cfg.prompt = DEFAULT_PROMPT;
	if (strlen(h->cfg.prompt) >= sizeof(h->line))
		return -EINVAL;
	if (cfg->nonce) {
		size_t n = strlen(cfg->nonce);
		if (n == 0 || n > 32)
			return -EINVAL;
		for (size_t i = 0; i < n; i++) {
			char c = cfg->nonce[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
				return -EINVAL;
		}
		snprintf(h->marker_prefix, sizeof(h->marker_prefix), "__N90_%s_EXIT:", cfg->nonce);
	} else {
		snprintf(h->marker_prefix, sizeof(h->marker_prefix), "%s", COMPAT_MARKER);
	}
	h->state = HARNESS_WAIT_PROMPT;
	h->deadline_ms = cfg->boot_timeout_ms ? now_ms + cfg->boot_timeout_ms : UINT64_MAX;
	return 0;
}

void harness_free(struct harness_engine *h)
{
	for (unsigned int i = 0; i < HARNESS_MAX_COMMANDS; i++)
		free(h->results[i].output);
	memset(h->results, 0, sizeof(h->results));
}

static uint64_t command_timeout(const struct harness_engine *h, unsigned int index)
{
	uint64_t t = index < h->cfg.ncommands && h->cfg.commands[index].timeout_ms ? h->cfg.commands[index].timeout_ms
										 : h->cfg.command_timeout_ms;
	return t ? t : UINT64_MAX;
}

static uint64_t add_ms(uint64_t now, uint64_t delta)
{
	return delta == UINT64_MAX || now > UINT64_MAX - delta ? UINT64_MAX : now + delta;
}

static void push(struct harness_action *actions, size_t max, size_t *n, struct harness_action a)
{
	if (*n < max)
		actions[(*n)++] = a;
}

static void capture(struct harness_result *r, uint8_t c)
{
	if (r->output_len >= HARNESS_CAPTURE_MAX) {
		r->output_dropped++;
		return;
	}
	if (!r->output) {
		r->output = malloc(HARNESS_CAPTURE_MAX);
		if (!r->output) {
			r->output_dropped++;
			return;
		}
	}
	r->output[r->output_len++] = c;
}

static void send_command(struct harness_engine *h, uint64_t now, struct harness_action *actions, size_t max,
			 size_t *n)
{
	unsigned int i = h->current;
	int len = snprintf((char *)h->sendbuf, sizeof(h->sendbuf), "%s; echo %s$?__\n", h->cfg.commands[i].text,
			   h->marker_prefix);
	h->results[i].started_ms = now;
	h->state = HARNESS_WAIT_EXIT;
	h->deadline_ms = add_ms(now, command_timeout(h, i));
	h->line_len = 0;
	h->tail_len = 0;
	push(actions, max, n, (struct harness_action){ .type = HARNESS_SEND, .index = i, .data = h->sendbuf,
						       .len = (size_t)len });
}

static void send_exit(struct harness_engine *h, uint64_t now, struct harness_action *actions, size_t max, size_t *n)
{
	static const uint8_t exit_cmd[] = "exit\n";
	h->state = HARNESS_WAIT_POWEROFF;
	h->deadline_ms = add_ms(now, h->cfg.poweroff_grace_ms ? h->cfg.poweroff_grace_ms : 1);
	push(actions, max, n,
	     (struct harness_action){ .type = HARNESS_SEND, .index = h->current, .data = exit_cmd, .len = 5 });
}

/* Does the text just captured end with marker_prefix, -?digits, "__"? The echoed command
 * carries a literal `$?` after the prefix, so it never matches. */
static bool marker_at_end(const struct harness_engine *h, int *status)
{
	const uint8_t *o = (const uint8_t *)h->tail;
	size_t end = h->tail_len, plen = strlen(h->marker_prefix);
	if (end < plen + 3 || o[end - 1] != '_' || o[end - 2] != '_')
		return false;
	size_t i = end - 2, digits = 0;
	long value = 0, scale = 1;
	while (i > 0 && o[i - 1] >= '0' && o[i - 1] <= '9' && digits < 9) {
		value += (o[i - 1] - '0') * scale;
		scale *= 10;
		digits++;
		i--;
	}
	if (digits == 0)
		return false;
	bool neg = i > 0 && o[i - 1] == '-';
	if (neg)
		i--;
	if (i < plen || memcmp(o + i - plen, h->marker_prefix, plen) != 0)
		return false;
	*status = (int)(neg ? -value : value);
	return true;
}

static bool line_ends_with_prompt(const struct harness_engine *h)
{
	size_t plen = strlen(h->cfg.prompt);
	return h->line_len >= plen && memcmp(h->line + h->line_len - plen, h->cfg.prompt, plen) == 0;
}

size_t harness_feed(struct harness_engine *h, const uint8_t *buf, size_t len, uint64_t now_ms,
		    struct harness_action *actions, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < len && h->state != HARNESS_DONE; i++) {
		uint8_t c = buf[i];
		/* ANSI escape sequences (colours, cursor moves) are not text. */
		if (h->esc == 1) {
			h->esc = c == '[' ? 2 : 0;
			continue;
		}
		if (h->esc == 2) {
			if (c >= 0x40 && c <= 0x7e)
				h->esc = 0;
			continue;
		}
		if (c == 0x1b) {
			h->esc = 1;
			continue;
		}
		if (c == '\r' || c == '\0')
			continue;
		if (h->state == HARNESS_WAIT_EXIT) {
			capture(&h->results[h->current], c);
			if (h->tail_len == sizeof(h->tail)) {
				memmove(h->tail, h->tail + sizeof(h->tail) / 2, sizeof(h->tail) / 2);
				h->tail_len = sizeof(h->tail) / 2;
			}
			h->tail[h->tail_len++] = (char)c;
		}
		if (c == '\n') {
			h->line_len = 0;
		} else {
			if (h->line_len == sizeof(h->line)) {
				memmove(h->line, h->line + sizeof(h->line) / 2, sizeof(h->line) / 2);
				h->line_len = sizeof(h->line) / 2;
			}
			h->line[h->line_len++] = (char)c;
		}
		int status;
		if (h->state == HARNESS_WAIT_EXIT && c == '_' && marker_at_end(h, &status)) {
			struct harness_result *r = &h->results[h->current];
			r->finished = true;
			r->status = status;
			r->finished_ms = now_ms;
			push(actions, max, &n,
			     (struct harness_action){ .type = HARNESS_COMMAND_DONE, .index = h->current, .status = status });
			h->current++;
			if (h->current == h->cfg.ncommands) {
				send_exit(h, now_ms, actions, max, &n);
			} else {
				h->state = HARNESS_WAIT_PROMPT;
				h->deadline_ms = add_ms(now_ms, command_timeout(h, h->current));
			}
		}
	}
	/* A real prompt waits for input: nothing follows it in the same burst of output. */
	if (h->state == HARNESS_WAIT_PROMPT && line_ends_with_prompt(h)) {
		if (!h->boot_ms)
			h->boot_ms = now_ms ? now_ms : 1;
		send_command(h, now_ms, actions, max, &n);
	}
	return n;
}

size_t harness_tick(struct harness_engine *h, uint64_t now_ms, struct harness_action *actions, size_t max)
{
	size_t n = 0;
	if (h->state == HARNESS_DONE || now_ms < h->deadline_ms)
		return 0;
	switch (h->state) {
	case HARNESS_WAIT_PROMPT:
		if (h->current == 0 && !h->boot_ms)
			push(actions, max, &n, (struct harness_action){ .type = HARNESS_BOOT_TIMEOUT });
		else
			push(actions, max, &n,
			     (struct harness_action){ .type = HARNESS_COMMAND_TIMEOUT, .index = h->current });
		break;
	case HARNESS_WAIT_EXIT:
		h->results[h->current].timed_out = true;
		h->results[h->current].finished_ms = now_ms;
		push(actions, max, &n, (struct harness_action){ .type = HARNESS_COMMAND_TIMEOUT, .index = h->current });
		break;
	case HARNESS_WAIT_POWEROFF:
		push(actions, max, &n, (struct harness_action){ .type = HARNESS_STOP });
		break;
	case HARNESS_DONE:
		break;
	}
	h->state = HARNESS_DONE;
	return n;
}

uint64_t harness_next_deadline(const struct harness_engine *h)
{
	return h->state == HARNESS_DONE ? UINT64_MAX : h->deadline_ms;
}

size_t harness_clean_output(const struct harness_engine *h, unsigned int index, char *out, size_t outlen)
{
	if (!outlen)
		return 0;
	out[0] = '\0';
	if (index >= h->cfg.ncommands || !h->results[index].output)
		return 0;
	const struct harness_result *r = &h->results[index];
	const char *text = (const char *)r->output;
	size_t len = r->output_len, plen = strlen(h->marker_prefix), promptlen = strlen(h->cfg.prompt);
	const char *cmd = h->cfg.commands[index].text;

	/* Cut at the marker that ended the command: the last occurrence of the prefix. */
	for (size_t i = len; i-- > 0;) {
		if (i + plen <= len && memcmp(text + i, h->marker_prefix, plen) == 0 &&
		    i + plen < len && (text[i + plen] == '-' || (text[i + plen] >= '0' && text[i + plen] <= '9'))) {
			len = i;
			break;
		}
	}
	/* The terminal echoes what was sent, ending in the marker with a literal `$?`, which no
	 * real status can look like. A long command wraps over several lines (the shell's line
	 * editor breaks at the terminal width), so everything up to the end of the line holding
	 * that literal is echo, however many lines it took. */
	size_t first_line = 0;
	char echo_tail[HARNESS_MARKER_MAX + 4];
	int tlen = snprintf(echo_tail, sizeof(echo_tail), "%s$?__", h->marker_prefix);
	bool echo_found = false;
	/* Matched backwards from each possible end, skipping the line breaks the wrap put into
	 * it (it may split the marker itself). */
	for (size_t end = len; tlen > 0 && end > 0 && !echo_found; end--) {
		size_t i = end, k = (size_t)tlen;
		while (k > 0 && i > 0) {
			if (text[i - 1] == '\n' && i != end) {
				i--;
				continue;
			}
			if (text[i - 1] != echo_tail[k - 1])
				break;
			i--;
			k--;
		}
		if (k == 0) {
			const char *nl = memchr(text + end, '\n', len - end);
			first_line = nl ? (size_t)(nl - text) + 1 : len;
			echo_found = true;
		}
	}
	/* Drop the echoed command line (when the literal was not seen: a line holding the
	 * command) and prompt lines. */
	size_t o = 0;
	bool first = !echo_found;
	for (size_t start = first_line; start < len;) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - text) : len;
		size_t llen = end - start;
		bool echo = first && memmem(text + start, llen, cmd, strlen(cmd)) != NULL;
		bool prompt = llen >= promptlen && memcmp(text + start, h->cfg.prompt, promptlen) == 0;
		if (!echo && !prompt) {
			for (size_t k = start; k < end + (nl ? 1 : 0) && o + 1 < outlen; k++)
				out[o++] = text[k];
		}
		first = false;
		start = end + 1;
	}
	out[o] = '\0';
	/* Trim surrounding whitespace. */
	size_t b = 0;
	while (b < o && (out[b] == ' ' || out[b] == '\n' || out[b] == '\t'))
		b++;
	while (o > b && (out[o - 1] == ' ' || out[o - 1] == '\n' || out[o - 1] == '\t'))
		o--;
	memmove(out, out + b, o - b);
	o -= b;
	out[o] = '\0';
	/* A JSON object in the output is the payload. */
	char *open = memchr(out, '{', o);
	char *close = open ? memrchr(open, '}', o - (size_t)(open - out)) : NULL;
	if (open && close) {
		o = (size_t)(close - open) + 1;
		memmove(out, open, o);
		out[o] = '\0';
	}
	return o;
}
