# SPDX-License-Identifier: LGPL-2.1-or-later
"""The C declarations the binding uses, as in include/soda/*.h."""

CDEF = r"""
typedef struct soda_error soda_error;
typedef struct soda_context soda_context;
typedef struct soda_server soda_server;
typedef struct soda_server_config soda_server_config;
typedef struct soda_server_info soda_server_info;
typedef struct soda_event soda_event;
typedef struct soda_shares soda_shares;
typedef struct soda_stats soda_stats;
typedef void (*soda_destroy_fn)(void *userdata);
typedef void (*soda_log_fn)(int level, const char *message, void *userdata);
typedef int (*soda_event_fn)(soda_context *ctx, const soda_event *ev, void *userdata);

typedef struct soda_context_options {
    uint32_t version;
    const char *state_dir;
    const char *uml_binary;
    const char *monitor_path;
    const char *agent_path;
    uint32_t uid_base;
    uint32_t uid_count;
    const char *cgroup_parent;
    const char *netns;
    soda_log_fn log_fn;
    void *log_userdata;
    int32_t log_level;
} soda_context_options;

const char *soda_version(void);
uint32_t soda_version_number(void);
void soda_free(void *ptr);
void soda_strv_free(char **strv);
void soda_error_free(soda_error *error);
int soda_error_code(const soda_error *error);
const char *soda_error_message(const soda_error *error);
const char *soda_error_source(const soda_error *error);
uint32_t soda_error_line(const soda_error *error);
uint32_t soda_error_column(const soda_error *error);

int soda_context_options_init(soda_context_options *opts, uint32_t version);
int soda_context_open(soda_context **ret, const char *uri, const soda_context_options *opts,
                      unsigned int flags, soda_error **error);
soda_context *soda_context_ref(soda_context *ctx);
soda_context *soda_context_unref(soda_context *ctx);
const char *soda_context_get_uri(const soda_context *ctx);
const char *soda_context_get_state_dir(const soda_context *ctx);
int soda_context_list_servers(char ***ret_names, size_t *ret_count, soda_context *ctx,
                              unsigned int flags, soda_error **error);
int soda_context_recover(soda_context *ctx, unsigned int flags, soda_error **error);
const char *soda_state_name(int state);
int soda_event_get_kind(const soda_event *ev);
const char *soda_event_get_server(const soda_event *ev);
int soda_event_get_state(const soda_event *ev);
int soda_event_get_previous_state(const soda_event *ev);
const char *soda_event_get_reason(const soda_event *ev);
int soda_context_add_event_handler(uint64_t *ret_id, soda_context *ctx, soda_event_fn fn,
                                   void *userdata, soda_destroy_fn destroy, unsigned int flags,
                                   soda_error **error);
int soda_context_remove_event_handler(soda_context *ctx, uint64_t id, soda_error **error);
int soda_context_get_fd(soda_context *ctx);
int soda_context_process(soda_context *ctx, unsigned int flags, soda_error **error);
int soda_context_wait(soda_context *ctx, int32_t timeout_ms, unsigned int flags,
                      soda_error **error);

uint64_t soda_memory_min(void);
uint32_t soda_name_max(void);
int soda_name_check(const char *name, soda_error **error);
int soda_server_config_new(soda_server_config **ret, const char *name, soda_error **error);
void soda_server_config_free(soda_server_config *cfg);
int soda_server_config_set_image(soda_server_config *cfg, const char *image, soda_error **error);
int soda_server_config_set_memory(soda_server_config *cfg, uint64_t bytes, soda_error **error);
int soda_server_config_add_kernel_arg(soda_server_config *cfg, const char *arg,
                                      soda_error **error);
int soda_server_config_add_share(soda_server_config *cfg, const char *host_dir,
                                 const char *guest_dir, unsigned int flags, soda_error **error);
int soda_server_config_add_nic(soda_server_config *cfg, const char *network, const char *mac,
                               unsigned int flags, soda_error **error);
int soda_server_config_add_nic_address(soda_server_config *cfg, size_t index, const char *cidr,
                                       soda_error **error);
int soda_server_config_add_label(soda_server_config *cfg, const char *label,
                                 soda_error **error);
int soda_server_config_set_shares(soda_server_config *cfg, const soda_shares *s,
                                  soda_error **error);
int soda_server_config_set_blackbox(soda_server_config *cfg, const uint8_t *box_public,
                                    const uint8_t *sign_public, soda_error **error);
int soda_server_config_get_blackbox(const soda_server_config *cfg, uint8_t *box_public);
const char *soda_server_config_get_name(const soda_server_config *cfg);
const char *soda_server_config_get_image(const soda_server_config *cfg);
uint64_t soda_server_config_get_memory(const soda_server_config *cfg);

int soda_server_define(soda_server **ret, soda_context *ctx, const soda_server_config *cfg,
                       unsigned int flags, soda_error **error);
int soda_server_lookup(soda_server **ret, soda_context *ctx, const char *name,
                       soda_error **error);
soda_server *soda_server_unref(soda_server *srv);
const char *soda_server_get_name(const soda_server *srv);
int soda_server_get_config(soda_server_config **ret, soda_server *srv, soda_error **error);
int soda_server_get_state(int *ret_state, soda_server *srv, soda_error **error);
int soda_server_get_info(soda_server_info **ret, soda_server *srv, unsigned int flags,
                         soda_error **error);
void soda_server_info_free(soda_server_info *info);
int soda_server_info_get_state(const soda_server_info *info);
int soda_server_info_get_ready(const soda_server_info *info);
int32_t soda_server_info_get_monitor_pid(const soda_server_info *info);
int32_t soda_server_info_get_guest_pid(const soda_server_info *info);
uint32_t soda_server_info_get_uid(const soda_server_info *info);
uint64_t soda_server_info_get_ready_usec(const soda_server_info *info);
int32_t soda_server_info_get_exit_code(const soda_server_info *info);
int32_t soda_server_info_get_exit_signal(const soda_server_info *info);
const char *soda_server_info_get_reason(const soda_server_info *info);
int soda_server_start(soda_server *srv, unsigned int flags, soda_error **error);
int soda_server_wait_state(soda_server *srv, int state, int32_t timeout_ms, unsigned int flags,
                           soda_error **error);
int soda_server_stop(soda_server *srv, uint32_t timeout_ms, unsigned int flags,
                     soda_error **error);
int soda_server_kill(soda_server *srv, unsigned int flags, soda_error **error);
int soda_server_freeze(soda_server *srv, unsigned int flags, soda_error **error);
int soda_server_thaw(soda_server *srv, unsigned int flags, soda_error **error);
int soda_server_restart(soda_server *srv, uint32_t timeout_ms, unsigned int flags,
                        soda_error **error);
int soda_server_undefine(soda_server *srv, unsigned int flags, soda_error **error);
int soda_server_dump(soda_server *srv, const char *dir, unsigned int flags, soda_error **error);
int soda_server_open_console(int *ret_fd, soda_server *srv, unsigned int flags,
                             soda_error **error);

int soda_image_build(soda_context *ctx, const char *name, int source_kind, const char *source,
                     uint64_t size_bytes, unsigned int flags, soda_error **error);
int soda_image_list(char ***ret_names, size_t *ret_count, soda_context *ctx,
                    unsigned int flags, soda_error **error);
int soda_image_remove(soda_context *ctx, const char *name, unsigned int flags,
                      soda_error **error);

int soda_shares_parse(soda_shares **ret, const char *text, soda_error **error);
int soda_shares_format(char **ret, const soda_shares *s, soda_error **error);
void soda_shares_free(soda_shares *shares);
int soda_server_set_shares(soda_server *srv, const soda_shares *s, unsigned int flags,
                           soda_error **error);
int soda_server_get_stats(soda_stats **ret, soda_server *srv, unsigned int flags,
                          soda_error **error);
void soda_stats_free(soda_stats *stats);
int soda_stats_get(const soda_stats *stats, int key, uint64_t *ret_value);
const char *soda_stats_key_name(int key);
"""
