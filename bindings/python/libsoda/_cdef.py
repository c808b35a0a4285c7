# SPDX-License-Identifier: LGPL-2.1-or-later
"""The C declarations of include/soda/*.h (written by tools/gen_cdef.sh; do not edit)."""

CDEF = r"""
 const char *soda_version(void);
 uint32_t soda_version_number(void);
 void soda_free(void *ptr);
 void soda_strv_free(char **strv);
typedef struct soda_error soda_error;
 void soda_error_free(soda_error *error);
 int soda_error_code(const soda_error *error);
 const char *soda_error_message(const soda_error *error);
 const char *soda_error_source(const soda_error *error);
 uint32_t soda_error_line(const soda_error *error);
 uint32_t soda_error_column(const soda_error *error);
typedef void (*soda_destroy_fn)(void *userdata);
typedef void (*soda_log_fn)(int level, const char *message, void *userdata);
 const char *soda_blackbox_type_name(uint32_t type);
 uint32_t soda_blackbox_type_from_name(const char *name);
typedef struct soda_blackbox_key soda_blackbox_key;
 int soda_blackbox_key_generate(soda_blackbox_key **ret, uint32_t type,
        unsigned int flags, soda_error **error);
 int soda_blackbox_key_load(soda_blackbox_key **ret, const char *path,
           unsigned int flags, soda_error **error);
 int soda_blackbox_key_parse(soda_blackbox_key **ret, const char *text, size_t len,
     const char *source, unsigned int flags, soda_error **error);
 int soda_blackbox_key_from_public(soda_blackbox_key **ret, uint32_t type,
           const uint8_t *box_public, const uint8_t *sign_public,
           unsigned int flags, soda_error **error);
 int soda_blackbox_key_save_secret(const soda_blackbox_key *key, const char *path,
           unsigned int flags, soda_error **error);
 int soda_blackbox_key_save_public(const soda_blackbox_key *key, const char *path,
           unsigned int flags, soda_error **error);
 int soda_blackbox_key_format_public(char **ret, const soda_blackbox_key *key,
      unsigned int flags, soda_error **error);
 int soda_blackbox_key_get_public(soda_blackbox_key **ret, const soda_blackbox_key *key,
          soda_error **error);
 uint32_t soda_blackbox_key_get_type(const soda_blackbox_key *key);
 int soda_blackbox_key_has_secret(const soda_blackbox_key *key);
 const char *soda_blackbox_key_get_id(const soda_blackbox_key *key);
 int soda_blackbox_key_get_box_public(const soda_blackbox_key *key, uint8_t *out,
       size_t out_len);
 int soda_blackbox_key_sign(uint8_t *sig, size_t sig_len, const soda_blackbox_key *key,
           const void *data, size_t len, unsigned int flags,
           soda_error **error);
 int soda_blackbox_key_verify(const soda_blackbox_key *key, const void *data,
      size_t len, const uint8_t *sig, size_t sig_len,
      unsigned int flags, soda_error **error);
 void soda_blackbox_key_free(soda_blackbox_key *key);
typedef struct soda_blackbox_writer soda_blackbox_writer;
typedef int (*soda_blackbox_output_fn)(const void *frame, size_t len, void *userdata);
typedef struct soda_blackbox_writer_options {
 uint32_t version;
 uint32_t heartbeat_ms;
 uint32_t rekey_ms;
 uint32_t reserved;
 uint64_t rekey_bytes;
 const char *label;
} soda_blackbox_writer_options;
 int soda_blackbox_writer_options_init(soda_blackbox_writer_options *opts,
        uint32_t version);
 int soda_blackbox_writer_new(soda_blackbox_writer **ret,
      const soda_blackbox_key *tenant_key,
      const soda_blackbox_writer_options *opts,
      soda_blackbox_output_fn out, void *userdata,
      soda_destroy_fn destroy, unsigned int flags,
      soda_error **error);
 int soda_blackbox_writer_append(soda_blackbox_writer *w, uint32_t type, uint32_t aux,
         const void *data, size_t len, uint64_t realtime_usec,
         uint64_t mono_usec, unsigned int flags,
         soda_error **error);
 int soda_blackbox_writer_tick(soda_blackbox_writer *w, uint64_t *ret_next_usec,
       unsigned int flags, soda_error **error);
 int soda_blackbox_writer_end(soda_blackbox_writer *w, uint32_t reason,
      unsigned int flags, soda_error **error);
 const char *soda_blackbox_writer_get_stream_id(const soda_blackbox_writer *w);
 void soda_blackbox_writer_free(soda_blackbox_writer *w);
typedef struct soda_blackbox_store soda_blackbox_store;
typedef struct soda_blackbox_store_options {
 uint32_t version;
 uint32_t durability;
 uint32_t group_ms;
 uint32_t checkpoint_ms;
 uint64_t group_bytes;
 uint64_t segment_bytes;
 uint64_t quota_bytes;
 uint64_t retention_bytes;
 uint64_t retention_seconds;
 const char *label;
} soda_blackbox_store_options;
 int soda_blackbox_store_options_init(soda_blackbox_store_options *opts,
       uint32_t version);
 int soda_blackbox_store_open(soda_blackbox_store **ret, const char *dir,
      const soda_blackbox_key *tenant_key,
      const soda_blackbox_store_options *opts,
      unsigned int flags, soda_error **error);
 int soda_blackbox_store_feed(soda_blackbox_store *store, const void *data, size_t len,
      unsigned int flags, soda_error **error);
 int soda_blackbox_store_host_event(soda_blackbox_store *store, uint32_t type,
            uint32_t aux, const void *data, size_t len,
            unsigned int flags, soda_error **error);
 int soda_blackbox_store_get_deadline(const soda_blackbox_store *store,
       uint64_t *ret_usec);
 int soda_blackbox_store_process(soda_blackbox_store *store, unsigned int flags,
         soda_error **error);
 int soda_blackbox_store_flush(soda_blackbox_store *store, unsigned int flags,
       soda_error **error);
 int soda_blackbox_store_close(soda_blackbox_store *store, unsigned int flags,
       soda_error **error);
 int soda_blackbox_store_get_counter(const soda_blackbox_store *store, uint32_t counter,
      uint64_t *ret);
 int soda_blackbox_store_get_anchor(const soda_blackbox_store *store, char **ret,
            soda_error **error);
 int soda_blackbox_store_read_anchor(char **ret, const char *dir, unsigned int flags,
      soda_error **error);
 const char *soda_blackbox_finding_kind_name(uint32_t kind);
typedef struct soda_blackbox_finding soda_blackbox_finding;
 uint32_t soda_blackbox_finding_get_kind(const soda_blackbox_finding *f);
 uint32_t soda_blackbox_finding_get_severity(const soda_blackbox_finding *f);
 uint32_t soda_blackbox_finding_get_basis(const soda_blackbox_finding *f);
 const char *soda_blackbox_finding_get_message(const soda_blackbox_finding *f);
 uint64_t soda_blackbox_finding_get_segment(const soda_blackbox_finding *f);
 uint64_t soda_blackbox_finding_get_offset(const soda_blackbox_finding *f);
 uint64_t soda_blackbox_finding_get_entry(const soda_blackbox_finding *f);
 const char *soda_blackbox_finding_get_stream(const soda_blackbox_finding *f);
 uint64_t soda_blackbox_finding_get_seq(const soda_blackbox_finding *f);
 int soda_blackbox_finding_to_json(char **ret, const soda_blackbox_finding *f,
           unsigned int flags, soda_error **error);
typedef struct soda_blackbox_report soda_blackbox_report;
 uint32_t soda_blackbox_report_get_status(const soda_blackbox_report *r);
 size_t soda_blackbox_report_get_finding_count(const soda_blackbox_report *r);
 const soda_blackbox_finding *soda_blackbox_report_get_finding(
 const soda_blackbox_report *r, size_t i);
 const soda_blackbox_finding *soda_blackbox_report_get_first(
 const soda_blackbox_report *r, uint32_t min_severity);
 uint64_t soda_blackbox_report_get_counter(const soda_blackbox_report *r,
            uint32_t counter);
 const char *soda_blackbox_report_get_anchor(const soda_blackbox_report *r);
 void soda_blackbox_report_free(soda_blackbox_report *r);
typedef struct soda_blackbox_verify_options {
 uint32_t version;
 uint32_t reserved;
 const char *const *anchors;
 size_t n_anchors;
} soda_blackbox_verify_options;
 int soda_blackbox_verify_options_init(soda_blackbox_verify_options *opts,
        uint32_t version);
 int soda_blackbox_verify(soda_blackbox_report **ret, const char *dir,
         const soda_blackbox_verify_options *opts, unsigned int flags,
         soda_error **error);
typedef struct soda_blackbox_reader soda_blackbox_reader;
typedef struct soda_blackbox_record soda_blackbox_record;
typedef struct soda_blackbox_reader_options {
 uint32_t version;
 uint32_t reserved;
 uint64_t types;
 uint64_t since_usec;
 uint64_t until_usec;
 const char *stream;
} soda_blackbox_reader_options;
 int soda_blackbox_reader_options_init(soda_blackbox_reader_options *opts,
        uint32_t version);
 int soda_blackbox_reader_open(soda_blackbox_reader **ret, const char *dir,
       const soda_blackbox_key *key,
       const soda_blackbox_reader_options *opts,
       unsigned int flags, soda_error **error);
 int soda_blackbox_reader_next(soda_blackbox_reader *reader,
       const soda_blackbox_record **ret, unsigned int flags,
       soda_error **error);
 const soda_blackbox_report *soda_blackbox_reader_get_report(
 const soda_blackbox_reader *reader);
 void soda_blackbox_reader_close(soda_blackbox_reader *reader);
 uint32_t soda_blackbox_record_get_type(const soda_blackbox_record *rec);
 uint32_t soda_blackbox_record_get_aux(const soda_blackbox_record *rec);
 uint32_t soda_blackbox_record_get_flags(const soda_blackbox_record *rec);
 uint64_t soda_blackbox_record_get_received(const soda_blackbox_record *rec);
 uint64_t soda_blackbox_record_get_realtime(const soda_blackbox_record *rec);
 uint64_t soda_blackbox_record_get_monotonic(const soda_blackbox_record *rec);
 const uint8_t *soda_blackbox_record_get_data(const soda_blackbox_record *rec,
        size_t *ret_len);
 const char *soda_blackbox_record_get_stream(const soda_blackbox_record *rec);
 const char *soda_blackbox_record_get_origin(const soda_blackbox_record *rec);
 const char *soda_blackbox_record_get_label(const soda_blackbox_record *rec);
 uint64_t soda_blackbox_record_get_seq(const soda_blackbox_record *rec);
 uint64_t soda_blackbox_record_get_segment(const soda_blackbox_record *rec);
 uint64_t soda_blackbox_record_get_offset(const soda_blackbox_record *rec);
 int soda_blackbox_record_to_json(char **ret, const soda_blackbox_record *rec,
          unsigned int flags, soda_error **error);
typedef struct soda_blackbox_export_options {
 uint32_t version;
 uint32_t format;
 uint32_t session;
 uint32_t has_session;
 uint32_t with_input;
 uint32_t reserved;
 const char *title;
} soda_blackbox_export_options;
 int soda_blackbox_export_options_init(soda_blackbox_export_options *opts,
        uint32_t version);
 int soda_blackbox_export(soda_blackbox_reader *reader, int fd,
         const soda_blackbox_export_options *opts, unsigned int flags,
         soda_error **error);
typedef struct soda_context soda_context;
typedef struct soda_context_options {
 uint32_t version;
 const char *state_dir;
 const char *netns;
 soda_log_fn log_fn;
 void *log_userdata;
 int32_t log_level;
 const char *const *driver_options;
} soda_context_options;
 int soda_context_options_init(soda_context_options *opts, uint32_t version);
 int soda_context_open(soda_context **ret, const char *uri,
      const soda_context_options *opts, unsigned int flags,
      soda_error **error);
 soda_context *soda_context_ref(soda_context *ctx);
 soda_context *soda_context_unref(soda_context *ctx);
 const char *soda_context_get_uri(const soda_context *ctx);
 const char *soda_context_get_state_dir(const soda_context *ctx);
 const char *soda_context_get_netns(const soda_context *ctx);
 int soda_context_list_servers(char ***ret_names, size_t *ret_count,
       soda_context *ctx, unsigned int flags,
       soda_error **error);
 int soda_context_recover(soda_context *ctx, unsigned int flags, soda_error **error);
 const char *soda_state_name(int state);
typedef struct soda_event soda_event;
 int soda_event_get_kind(const soda_event *ev);
 const char *soda_event_get_server(const soda_event *ev);
 int soda_event_get_state(const soda_event *ev);
 int soda_event_get_previous_state(const soda_event *ev);
 const char *soda_event_get_reason(const soda_event *ev);
typedef int (*soda_event_fn)(soda_context *ctx, const soda_event *ev, void *userdata);
 int soda_context_add_event_handler(uint64_t *ret_id, soda_context *ctx,
            soda_event_fn fn, void *userdata,
            soda_destroy_fn destroy, unsigned int flags,
            soda_error **error);
 int soda_context_remove_event_handler(soda_context *ctx, uint64_t id,
        soda_error **error);
 int soda_context_get_fd(soda_context *ctx);
 int soda_context_process(soda_context *ctx, unsigned int flags, soda_error **error);
 int soda_context_wait(soda_context *ctx, int32_t timeout_ms, unsigned int flags,
      soda_error **error);
typedef struct soda_server_config soda_server_config;
 uint64_t soda_memory_min(void);
 uint32_t soda_name_max(void);
 int soda_name_check(const char *name, soda_error **error);
 int soda_server_config_new(soda_server_config **ret, const char *name,
           soda_error **error);
 int soda_server_config_copy(soda_server_config **ret, const soda_server_config *cfg,
     soda_error **error);
 void soda_server_config_free(soda_server_config *cfg);
 int soda_server_config_set_image(soda_server_config *cfg, const char *image,
          soda_error **error);
 int soda_server_config_set_memory(soda_server_config *cfg, uint64_t bytes,
           soda_error **error);
 int soda_server_config_add_kernel_arg(soda_server_config *cfg, const char *arg,
        soda_error **error);
 int soda_server_config_add_share(soda_server_config *cfg, const char *host_dir,
          const char *guest_dir, unsigned int flags,
          soda_error **error);
 int soda_server_config_add_nic(soda_server_config *cfg, const char *network,
        const char *mac, unsigned int flags,
        soda_error **error);
 const char *soda_server_config_get_name(const soda_server_config *cfg);
 const char *soda_server_config_get_image(const soda_server_config *cfg);
 uint64_t soda_server_config_get_memory(const soda_server_config *cfg);
 size_t soda_server_config_get_kernel_arg_count(const soda_server_config *cfg);
 const char *soda_server_config_get_kernel_arg(const soda_server_config *cfg,
         size_t index);
 size_t soda_server_config_get_share_count(const soda_server_config *cfg);
 int soda_server_config_get_share(const soda_server_config *cfg, size_t index,
          const char **ret_host_dir, const char **ret_guest_dir,
          unsigned int *ret_flags);
 size_t soda_server_config_get_nic_count(const soda_server_config *cfg);
 int soda_server_config_get_nic(const soda_server_config *cfg, size_t index,
        const char **ret_network, const char **ret_mac);
 int soda_server_config_add_nic_address(soda_server_config *cfg, size_t index,
         const char *cidr, soda_error **error);
 size_t soda_server_config_get_nic_address_count(const soda_server_config *cfg,
           size_t index);
 const char *soda_server_config_get_nic_address(const soda_server_config *cfg,
          size_t index, size_t addr_index);
 int soda_server_config_add_label(soda_server_config *cfg, const char *label,
          soda_error **error);
 int soda_server_config_set_blackbox(soda_server_config *cfg,
      const uint8_t *box_public,
      const uint8_t *sign_public, soda_error **error);
 int soda_server_config_get_blackbox(const soda_server_config *cfg,
      uint8_t *box_public);
 int soda_server_config_set_blackbox_retention(soda_server_config *cfg, uint32_t policy,
         uint64_t quota_bytes, soda_error **error);
 uint32_t soda_server_config_get_blackbox_retention(const soda_server_config *cfg,
              uint64_t *ret_quota_bytes);
 const char *soda_blackbox_retention_name(uint32_t policy);
 int soda_blackbox_retention_from_name(uint32_t *ret, const char *name,
        soda_error **error);
 int soda_server_config_set_guest_profile(soda_server_config *cfg, uint32_t profile,
           soda_error **error);
 uint32_t soda_server_config_get_guest_profile(const soda_server_config *cfg);
 const char *soda_guest_profile_name(uint32_t profile);
 int soda_guest_profile_from_name(uint32_t *ret, const char *name, soda_error **error);
 size_t soda_server_config_get_label_count(const soda_server_config *cfg);
 const char *soda_server_config_get_label(const soda_server_config *cfg, size_t index);
typedef struct soda_server soda_server;
 int soda_server_define(soda_server **ret, soda_context *ctx,
       const soda_server_config *cfg, unsigned int flags,
       soda_error **error);
 int soda_server_lookup(soda_server **ret, soda_context *ctx, const char *name,
       soda_error **error);
 soda_server *soda_server_ref(soda_server *srv);
 soda_server *soda_server_unref(soda_server *srv);
 const char *soda_server_get_name(const soda_server *srv);
 soda_context *soda_server_get_context(const soda_server *srv);
 int soda_server_get_config(soda_server_config **ret, soda_server *srv,
           soda_error **error);
 int soda_server_get_state(int *ret_state, soda_server *srv, soda_error **error);
typedef struct soda_server_info soda_server_info;
 int soda_server_get_info(soda_server_info **ret, soda_server *srv,
         unsigned int flags, soda_error **error);
 void soda_server_info_free(soda_server_info *info);
 int soda_server_info_get_state(const soda_server_info *info);
 int soda_server_info_get_ready(const soda_server_info *info);
 int32_t soda_server_info_get_monitor_pid(const soda_server_info *info);
 int32_t soda_server_info_get_guest_pid(const soda_server_info *info);
 uint32_t soda_server_info_get_uid(const soda_server_info *info);
 uint64_t soda_server_info_get_started_usec(const soda_server_info *info);
 uint64_t soda_server_info_get_ready_usec(const soda_server_info *info);
 int32_t soda_server_info_get_exit_code(const soda_server_info *info);
 int32_t soda_server_info_get_exit_signal(const soda_server_info *info);
 const char *soda_server_info_get_reason(const soda_server_info *info);
 int soda_server_start(soda_server *srv, unsigned int flags, soda_error **error);
 int soda_server_wait_state(soda_server *srv, int state, int32_t timeout_ms,
           unsigned int flags, soda_error **error);
 int soda_server_stop(soda_server *srv, uint32_t timeout_ms, unsigned int flags,
     soda_error **error);
 int soda_server_kill(soda_server *srv, unsigned int flags, soda_error **error);
 int soda_server_freeze(soda_server *srv, unsigned int flags, soda_error **error);
 int soda_server_thaw(soda_server *srv, unsigned int flags, soda_error **error);
 int soda_server_restart(soda_server *srv, uint32_t timeout_ms, unsigned int flags,
        soda_error **error);
 int soda_server_undefine(soda_server *srv, unsigned int flags, soda_error **error);
 int soda_server_dump(soda_server *srv, const char *dir, unsigned int flags,
     soda_error **error);
 int soda_server_open_console(int *ret_fd, soda_server *srv, unsigned int flags,
      soda_error **error);
 int soda_server_get_blackbox_dir(char **ret, soda_server *srv, soda_error **error);
typedef struct soda_exec_options {
 uint32_t version;
 const char *const *env;
 const char *user;
 const char *cwd;
 uint32_t timeout_ms;
 int32_t stdin_fd;
 int32_t stdout_fd;
 int32_t stderr_fd;
} soda_exec_options;
 int soda_exec_options_init(soda_exec_options *opts, uint32_t version);
 int soda_server_exec(int *ret_status, soda_server *srv, const char *const *argv,
     const soda_exec_options *opts, unsigned int flags,
     soda_error **error);
 int soda_exec_status_signal(int status);
 int soda_exec_status_code(int status);
 int soda_server_config_set_ids_landlord_alerts(soda_server_config *cfg,
          uint32_t allow, soda_error **error);
 uint32_t soda_server_config_get_ids_landlord_alerts(const soda_server_config *cfg);
 int soda_server_config_set_ids_response(soda_server_config *cfg, uint32_t response,
          uint32_t min_priority, soda_error **error);
 int soda_server_config_get_ids_response(const soda_server_config *cfg,
          uint32_t *ret_response,
          uint32_t *ret_min_priority);
 int soda_server_config_set_ids_bypass(soda_server_config *cfg, uint64_t depth,
          soda_error **error);
 uint64_t soda_server_config_get_ids_bypass(const soda_server_config *cfg);
 int soda_server_ids_enable(soda_server *srv, const char *rules_path,
           const char *vars_path, unsigned int flags,
           soda_error **error);
 int soda_server_ids_reload(soda_server *srv, const char *rules_path,
           const char *vars_path, unsigned int flags,
           soda_error **error);
 int soda_server_ids_disable(soda_server *srv, unsigned int flags,
     soda_error **error);
 int soda_server_config_set_ids_rules(soda_server_config *cfg, const char *path,
       unsigned int flags, soda_error **error);
 const char *soda_server_config_get_ids_rules_sha256(const soda_server_config *cfg);
typedef struct soda_ids_stats soda_ids_stats;
 int soda_server_ids_stats(soda_ids_stats **ret, soda_server *srv,
          unsigned int flags, soda_error **error);
 int soda_ids_stats_get(const soda_ids_stats *stats, uint32_t key,
       uint64_t *ret_value);
 const char *soda_ids_stats_key_name(uint32_t key);
 void soda_ids_stats_free(soda_ids_stats *stats);
 int soda_server_ids_open_alerts(soda_server *srv, int *ret_fd, unsigned int flags,
         soda_error **error);
 int soda_image_build(soda_context *ctx, const char *name, int source_kind,
     const char *source, uint64_t size_bytes, unsigned int flags,
     soda_error **error);
 int soda_image_list(char ***ret_names, size_t *ret_count, soda_context *ctx,
    unsigned int flags, soda_error **error);
 int soda_image_remove(soda_context *ctx, const char *name, unsigned int flags,
      soda_error **error);
 int soda_image_get_path(char **ret_path, soda_context *ctx, const char *name,
        soda_error **error);
typedef struct soda_network soda_network;
typedef struct soda_network_options {
 uint32_t version;
 const char *uplink;
} soda_network_options;
 int soda_network_options_init(soda_network_options *opts, uint32_t version);
 int soda_network_create(soda_network **ret, soda_context *ctx, const char *name,
        const soda_network_options *opts, unsigned int flags,
        soda_error **error);
 int soda_network_lookup(soda_network **ret, soda_context *ctx, const char *name,
        soda_error **error);
 soda_network *soda_network_ref(soda_network *net);
 soda_network *soda_network_unref(soda_network *net);
 const char *soda_network_get_name(const soda_network *net);
 soda_context *soda_network_get_context(const soda_network *net);
 int soda_network_destroy(soda_network *net, unsigned int flags, soda_error **error);
 int soda_context_list_networks(char ***ret_names, size_t *ret_count,
        soda_context *ctx, unsigned int flags,
        soda_error **error);
typedef struct soda_network_info soda_network_info;
 int soda_network_get_info(soda_network_info **ret, soda_network *net,
          unsigned int flags, soda_error **error);
 void soda_network_info_free(soda_network_info *info);
 const char *soda_network_info_get_bridge(const soda_network_info *info);
 const char *soda_network_info_get_uplink(const soda_network_info *info);
 const char *soda_network_info_get_table(const soda_network_info *info);
 int soda_network_info_get_firewall(const soda_network_info *info);
 int soda_network_info_get_flood_limit(const soda_network_info *info,
        uint32_t *ret_rate, uint32_t *ret_burst);
 uint64_t soda_network_info_get_generation(const soda_network_info *info);
 size_t soda_network_info_get_rule_count(const soda_network_info *info);
 size_t soda_network_info_get_port_count(const soda_network_info *info);
 int soda_network_info_get_port(const soda_network_info *info, size_t index,
        const char **ret_server, uint32_t *ret_nic,
        const char **ret_ifname, const char **ret_mac);
 size_t soda_network_info_get_port_address_count(const soda_network_info *info,
           size_t index);
 const char *soda_network_info_get_port_address(const soda_network_info *info,
          size_t index, size_t addr_index);
typedef struct soda_policy soda_policy;
 int soda_policy_parse(soda_policy **ret, const char *text, size_t len,
      const char *source, unsigned int flags, soda_error **error);
 void soda_policy_free(soda_policy *policy);
 size_t soda_policy_get_rule_count(const soda_policy *policy);
 const char *soda_policy_get_rule(const soda_policy *policy, size_t index);
 uint32_t soda_policy_get_rule_line(const soda_policy *policy, size_t index);
 const char *soda_policy_get_text(const soda_policy *policy);
 int soda_network_apply_policy(soda_network *net, const soda_policy *policy,
       unsigned int flags, soda_error **error);
 int soda_network_set_flood_limit(soda_network *net, uint32_t rate, uint32_t burst,
          unsigned int flags, soda_error **error);
 int soda_network_get_policy(soda_policy **ret, soda_network *net,
     soda_error **error);
 int soda_network_get_compiled(char **ret_text, soda_network *net,
       unsigned int flags, soda_error **error);
typedef struct soda_net_counters soda_net_counters;
 const char *soda_net_counter_name(int kind);
 int soda_net_counter_max(void);
 int soda_network_get_counters(soda_net_counters **ret, soda_network *net,
       unsigned int flags, soda_error **error);
 void soda_net_counters_free(soda_net_counters *c);
 size_t soda_net_counters_get_rule_count(const soda_net_counters *c);
 int soda_net_counters_get_rule(const soda_net_counters *c, size_t index,
        uint64_t *ret_packets, uint64_t *ret_bytes);
 const char *soda_net_counters_get_rule_text(const soda_net_counters *c,
       size_t index);
 size_t soda_net_counters_get_server_count(const soda_net_counters *c);
 const char *soda_net_counters_get_server(const soda_net_counters *c, size_t index);
 int soda_net_counters_get_server_value(const soda_net_counters *c, size_t index,
         int kind, uint64_t *ret_packets,
         uint64_t *ret_bytes);
 int soda_net_counters_find_server(const soda_net_counters *c, const char *server,
           size_t *ret_index);
 int soda_net_counters_get_total(const soda_net_counters *c, int kind,
         uint64_t *ret_packets, uint64_t *ret_bytes);
typedef struct soda_shares soda_shares;
 int soda_shares_new(soda_shares **ret, soda_error **error);
 int soda_shares_copy(soda_shares **ret, const soda_shares *shares,
     soda_error **error);
 void soda_shares_free(soda_shares *shares);
 int soda_shares_set_cpu_weight(soda_shares *s, uint32_t weight, soda_error **error);
 int soda_shares_set_cpu_max(soda_shares *s, uint32_t percent, soda_error **error);
 int soda_shares_set_cpus(soda_shares *s, const char *cpus, soda_error **error);
 int soda_shares_set_memory_max(soda_shares *s, uint64_t bytes, soda_error **error);
 int soda_shares_set_pids_max(soda_shares *s, uint32_t n, soda_error **error);
 int soda_shares_set_bandwidth(soda_shares *s, int direction, uint64_t rate_bps,
       uint64_t burst_bytes, soda_error **error);
 uint32_t soda_shares_get_cpu_weight(const soda_shares *s);
 uint32_t soda_shares_get_cpu_max(const soda_shares *s);
 const char *soda_shares_get_cpus(const soda_shares *s);
 uint64_t soda_shares_get_memory_max(const soda_shares *s);
 uint32_t soda_shares_get_pids_max(const soda_shares *s);
 int soda_shares_get_bandwidth(const soda_shares *s, int direction,
       uint64_t *ret_rate_bps, uint64_t *ret_burst_bytes);
 int soda_shares_parse(soda_shares **ret, const char *text, soda_error **error);
 int soda_shares_format(char **ret, const soda_shares *s, soda_error **error);
 int soda_server_config_set_shares(soda_server_config *cfg, const soda_shares *s,
           soda_error **error);
 int soda_server_config_get_shares(soda_shares **ret, const soda_server_config *cfg,
           soda_error **error);
 int soda_server_set_shares(soda_server *srv, const soda_shares *s, unsigned int flags,
           soda_error **error);
typedef struct soda_stats soda_stats;
 int soda_server_get_stats(soda_stats **ret, soda_server *srv, unsigned int flags,
          soda_error **error);
 void soda_stats_free(soda_stats *stats);
 int soda_stats_get(const soda_stats *stats, int key, uint64_t *ret_value);
 const char *soda_stats_key_name(int key);
"""
