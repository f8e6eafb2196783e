/* `n90vmm harness`: the harness protocol against another hypervisor's serial socket. */
#ifndef N90_HARNESS_CLIENT_H
#define N90_HARNESS_CLIENT_H

#include "vmm/config.h"

/* Runs cfg->harness's commands over cfg->client.connect, launching cfg->client.launch first
 * when given; returns the exit status, with the same meanings as inside n90vmm. */
int harness_client_run(const struct vm_config *cfg);

#endif
