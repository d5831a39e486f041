//! Protocol operation tables: which operations (name, class) each protocol reports in
//! `*.protostats.*` values, per-client stats and the protocol summary.
//!
//! A table only; the numbers for each operation come from `values`. Each protocol's
//! first three operations are its busiest and appear in every answer; the rest come
//! and go between time buckets, as idle operations do on a real cluster. Operations
//! whose latencies are meaningless (`change_notify`, `read_directory_change`) are
//! marked so they too appear in every answer: a collector must drop them.

/// One operation of a protocol.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Op {
    /// Operation name (`op_name`).
    pub name: &'static str,
    /// Operation class (`class_name`).
    pub class: &'static str,
}

/// Operation names whose latency measures a wait for an event, not work: collectors
/// drop rows carrying them.
pub(crate) const MEANINGLESS_LATENCY_OPS: &[&str] = &["change_notify", "read_directory_change"];

/// The protocols of the summary endpoints, with the protostats table they use.
pub(crate) const SUMMARY_PROTOCOLS: &[(&str, &str)] = &[
    ("nfs3", "nfs"),
    ("smb2", "smb2"),
    ("nfs4", "nfs4"),
    ("smb1", "cifs"),
    ("http", "http"),
    ("hdfs", "hdfs"),
    ("papi", "papi"),
    ("s3", "s3"),
    ("ftp", "ftp"),
    ("nlm", "nlm"),
];

/// Operation classes used by per-client records and the client summary.
pub(crate) const CLASSES: &[&str] = &[
    "read",
    "write",
    "namespace_read",
    "namespace_write",
    "file_state",
    "session_state",
    "create",
    "delete",
    "other",
];

const fn op(name: &'static str, class: &'static str) -> Op {
    Op { name, class }
}

/// The operations of a protostats protocol name (`nfs`, `smb2`, `cifs`, ...); an unknown
/// protocol gets a small generic table.
pub(crate) fn ops_for(protocol: &str) -> &'static [Op] {
    match protocol {
        "nfs" | "nfs3" => NFS3,
        "nfs4" => NFS4,
        "smb2" => SMB2,
        "cifs" | "smb1" => SMB1,
        "nlm" => NLM,
        "ftp" => FTP,
        "http" => HTTP,
        "siq" => SIQ,
        "jobd" => JOBD,
        "irp" => IRP,
        "lsass_in" => LSASS_IN,
        "lsass_out" => LSASS_OUT,
        "papi" => PAPI,
        "hdfs" => HDFS,
        "s3" => S3,
        _ => GENERIC,
    }
}

/// Whether the operation at `index` of a table appears in every answer.
pub(crate) fn always_present(ops: &[Op], index: usize) -> bool {
    index < 3 || MEANINGLESS_LATENCY_OPS.contains(&ops[index].name)
}

const NFS3: &[Op] = &[
    op("getattr", "namespace_read"),
    op("read", "read"),
    op("write", "write"),
    op("lookup", "namespace_read"),
    op("access", "namespace_read"),
    op("setattr", "namespace_write"),
    op("readlink", "namespace_read"),
    op("create", "create"),
    op("mkdir", "create"),
    op("symlink", "create"),
    op("mknod", "create"),
    op("remove", "delete"),
    op("rmdir", "delete"),
    op("rename", "namespace_write"),
    op("link", "namespace_write"),
    op("readdir", "namespace_read"),
    op("readdirplus", "namespace_read"),
    op("fsstat", "other"),
    op("fsinfo", "other"),
    op("pathconf", "other"),
    op("commit", "write"),
    op("null", "other"),
];

const NFS4: &[Op] = &[
    op("read", "read"),
    op("write", "write"),
    op("getattr", "namespace_read"),
    op("access", "namespace_read"),
    op("close", "file_state"),
    op("commit", "write"),
    op("create", "create"),
    op("delegreturn", "file_state"),
    op("getfh", "other"),
    op("link", "namespace_write"),
    op("lock", "file_state"),
    op("lockt", "file_state"),
    op("locku", "file_state"),
    op("lookup", "namespace_read"),
    op("open", "file_state"),
    op("putfh", "other"),
    op("readdir", "namespace_read"),
    op("remove", "delete"),
    op("rename", "namespace_write"),
    op("renew", "session_state"),
    op("sequence", "session_state"),
    op("setattr", "namespace_write"),
    op("exchange_id", "session_state"),
    op("create_session", "session_state"),
];

const SMB2: &[Op] = &[
    op("read", "read"),
    op("write", "write"),
    op("create", "create"),
    op("close", "file_state"),
    op("change_notify", "other"),
    op("negotiate", "session_state"),
    op("session_setup", "session_state"),
    op("logoff", "session_state"),
    op("tree_connect", "session_state"),
    op("tree_disconnect", "session_state"),
    op("flush", "write"),
    op("lock", "file_state"),
    op("ioctl", "other"),
    op("echo", "other"),
    op("query_directory", "namespace_read"),
    op("query_info", "namespace_read"),
    op("set_info", "namespace_write"),
    op("oplock_break", "file_state"),
];

const SMB1: &[Op] = &[
    op("read", "read"),
    op("write", "write"),
    op("nt_create", "create"),
    op("close", "file_state"),
    op("change_notify", "other"),
    op("negotiate", "session_state"),
    op("session_setup", "session_state"),
    op("tree_connect", "session_state"),
    op("trans2:find_first", "namespace_read"),
    op("trans2:query_path_info", "namespace_read"),
    op("trans2:set_file_info", "namespace_write"),
    op("lock", "file_state"),
    op("delete", "delete"),
    op("rename", "namespace_write"),
    op("echo", "other"),
];

const NLM: &[Op] = &[
    op("lock", "file_state"),
    op("unlock", "file_state"),
    op("test", "file_state"),
    op("cancel", "file_state"),
    op("granted", "file_state"),
    op("share", "file_state"),
    op("unshare", "file_state"),
    op("free_all", "file_state"),
];

const FTP: &[Op] = &[
    op("retr", "read"),
    op("stor", "write"),
    op("list", "namespace_read"),
    op("connect", "session_state"),
    op("disconnect", "session_state"),
    op("dele", "delete"),
    op("mkd", "namespace_write"),
    op("rmd", "delete"),
    op("rnfr", "namespace_write"),
    op("cwd", "namespace_read"),
];

const HTTP: &[Op] = &[
    op("get", "read"),
    op("put", "write"),
    op("head", "namespace_read"),
    op("post", "write"),
    op("delete", "delete"),
    op("options", "other"),
    op("propfind", "namespace_read"),
    op("mkcol", "namespace_write"),
    op("move", "namespace_write"),
    op("copy", "write"),
];

const SIQ: &[Op] = &[
    op("read", "read"),
    op("write", "write"),
    op("lookup", "namespace_read"),
    op("getattr", "namespace_read"),
    op("readdir", "namespace_read"),
    op("mkdir", "namespace_write"),
    op("remove", "delete"),
    op("setattr", "namespace_write"),
];

const JOBD: &[Op] = &[
    op("read", "read"),
    op("write", "write"),
    op("lookup", "namespace_read"),
    op("getattr", "namespace_read"),
    op("setattr", "namespace_write"),
    op("remove", "delete"),
];

const IRP: &[Op] = &[
    op("read", "read"),
    op("write", "write"),
    op("create", "create"),
    op("read_directory_change", "other"),
    op("close", "file_state"),
    op("query_information", "namespace_read"),
    op("set_information", "namespace_write"),
    op("directory_control", "namespace_read"),
    op("lock_control", "file_state"),
    op("flush_buffers", "write"),
];

const LSASS_IN: &[Op] = &[
    op("lookup_sids", "other"),
    op("lookup_names", "other"),
    op("get_groups", "other"),
    op("authenticate", "other"),
    op("map_id", "other"),
    op("ntlm_auth", "other"),
    op("kerberos_auth", "other"),
    op("ldap_search", "other"),
];

const LSASS_OUT: &[Op] = &[
    op("ldap_search", "other"),
    op("ldap_bind", "other"),
    op("kerberos", "other"),
    op("netlogon", "other"),
    op("dns_lookup", "other"),
    op("nis_lookup", "other"),
];

const PAPI: &[Op] = &[
    op("get", "namespace_read"),
    op("put", "namespace_write"),
    op("post", "namespace_write"),
    op("delete", "delete"),
    op("head", "other"),
];

const HDFS: &[Op] = &[
    op("read", "read"),
    op("write", "write"),
    op("getfileinfo", "namespace_read"),
    op("getlisting", "namespace_read"),
    op("getblocklocations", "namespace_read"),
    op("create", "create"),
    op("append", "write"),
    op("complete", "other"),
    op("mkdirs", "namespace_write"),
    op("rename", "namespace_write"),
    op("delete", "delete"),
    op("renewlease", "session_state"),
];

const S3: &[Op] = &[
    op("get_object", "read"),
    op("put_object", "write"),
    op("head_object", "namespace_read"),
    op("list_objects", "namespace_read"),
    op("delete_object", "delete"),
    op("create_multipart_upload", "create"),
    op("upload_part", "write"),
    op("complete_multipart_upload", "other"),
];

const GENERIC: &[Op] = &[
    op("read", "read"),
    op("write", "write"),
    op("other", "other"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smb_and_irp_carry_meaningless_latency_rows() {
        for proto in ["smb2", "cifs", "irp"] {
            let ops = ops_for(proto);
            let i = ops
                .iter()
                .position(|o| MEANINGLESS_LATENCY_OPS.contains(&o.name))
                .unwrap();
            assert!(always_present(ops, i), "{proto}");
        }
        assert!(!ops_for("nfs")
            .iter()
            .any(|o| MEANINGLESS_LATENCY_OPS.contains(&o.name)));
    }

    #[test]
    fn every_summary_protocol_has_ops() {
        for (_, table) in SUMMARY_PROTOCOLS {
            assert!(ops_for(table).len() >= 3, "{table}");
        }
    }
}
