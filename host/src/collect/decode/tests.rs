//! Decoding tests: each a literal OneFS answer and the points and problems it must
//! give, written as text by [`render`] so that a failure shows the whole difference.

use super::*;

/// Decodes a statistics answer for cluster `c1` and compares the rendering.
fn check(body: &str, expected: &str) {
    check_with(false, body, expected);
}

/// Like [`check`], with `include_degraded` chosen.
fn check_with(include_degraded: bool, body: &str, expected: &str) {
    let decoded = current(body.as_bytes(), &opts(include_degraded)).expect("decodes");
    assert_eq!(render(&decoded), tidy(expected));
}

/// Decodes a summary answer for cluster `c1` and compares the rendering.
fn check_summary(kind: SummaryKind, body: &str, expected: &str) {
    let decoded = summary(kind, body.as_bytes(), &opts(false)).expect("decodes");
    assert_eq!(render(&decoded), tidy(expected));
}

fn opts(include_degraded: bool) -> Options {
    Options {
        cluster: "c1".to_string(),
        include_degraded,
        keys_seen: true,
    }
}

/// One line per point, one indented line per row (`tags | fields`), one per problem.
/// Floats print with `{:?}` (`5.0`), any other value type as its variant.
fn render(decoded: &Decoded) -> String {
    let mut out = Vec::new();
    for point in &decoded.points {
        out.push(format!("{} @{}", point.measurement, point.time));
        for row in point.rows.iter() {
            let tags: Vec<String> = row
                .tags
                .iter()
                .map(|t| format!("{}={}", t.key, t.value))
                .collect();
            let fields: Vec<String> = row
                .fields
                .iter()
                .map(|f| match &f.value {
                    Value::Float(x) => format!("{}={x:?}", f.key),
                    other => format!("{}={other:?}", f.key),
                })
                .collect();
            out.push(format!("  {} | {}", tags.join(","), fields.join(",")));
        }
    }
    for problem in &decoded.problems {
        out.push(format!("{problem:?}"));
    }
    out.join("\n")
}

/// The expected text without the indentation of the test source.
fn tidy(expected: &str) -> String {
    expected
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let l = l.trim_start();
            if l.starts_with("cluster=") {
                format!("  {l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn decode_error(body: &str) -> String {
    current(body.as_bytes(), &opts(false))
        .unwrap_err()
        .to_string()
}

#[test]
fn scalar_cluster_stat_is_one_float_field_named_value() {
    check(
        r#"{"stats":[{"devid":0,"node":null,"key":"cluster.cpu.idle.avg","time":1700000000,
            "value":975,"error":null,"error_code":null}]}"#,
        "cluster.cpu.idle.avg @1700000000
         cluster=c1 | value=975.0",
    );
}

#[test]
fn node_scoped_stat_tags_devid_and_lnn() {
    check(
        r#"{"stats":[
            {"devid":4,"node":2,"key":"node.load.1min","time":1700000001,"value":1.5,"error":null,"error_code":0},
            {"devid":7,"node":3,"key":"node.load.1min","time":1700000001,"value":0,"error":null,"error_code":0}]}"#,
        "node.load.1min @1700000001
         cluster=c1,devid=4,node=2 | value=1.5
         node.load.1min @1700000001
         cluster=c1,devid=7,node=3 | value=0.0",
    );
}

#[test]
fn missing_node_falls_back_to_devid() {
    check(
        r#"{"stats":[{"devid":5,"key":"node.open.files","time":1700000002,"value":812,"error":null,"error_code":0}]}"#,
        "node.open.files @1700000002
         cluster=c1,devid=5,node=5 | value=812.0",
    );
}

#[test]
fn protocol_stats_list_is_one_row_per_op_without_change_notify() {
    check(
        r#"{"stats":[{"devid":0,"key":"cluster.protostats.smb2","time":1700000003,"error":null,"error_code":0,
            "value":[
              {"class_name":"read","in_rate":0,"op_count":12,"op_id":8,"op_name":"read","op_rate":2.4,"time_avg":310.5},
              {"class_name":"namespace_read","op_count":3,"op_id":15,"op_name":"change_notify","op_rate":0.6,"time_avg":9.1e7},
              {"class_name":"namespace_read","op_count":1,"op_id":16,"op_name":"read_directory_change","op_rate":0.2,"time_avg":5.0e7},
              {"class_name":"write","in_rate":4096,"op_count":7,"op_id":9,"op_name":"write","op_rate":1.4,"time_avg":655}]}]}"#,
        "cluster.protostats.smb2 @1700000003
         cluster=c1,class_name=read,op_name=read | in_rate=0.0,op_count=12.0,op_id=8.0,op_rate=2.4,time_avg=310.5
         cluster=c1,class_name=write,op_name=write | in_rate=4096.0,op_count=7.0,op_id=9.0,op_rate=1.4,time_avg=655.0",
    );
}

#[test]
fn point_whose_rows_are_all_dropped_is_not_emitted() {
    check(
        r#"{"stats":[
            {"devid":0,"key":"cluster.protostats.smb2","time":1700000003,"error":null,"error_code":0,
             "value":[{"class_name":"namespace_read","op_count":3,"op_name":"change_notify"}]},
            {"devid":0,"key":"cluster.protostats.nfs","time":1700000003,"error":null,"error_code":0,"value":[]}]}"#,
        "",
    );
}

#[test]
fn node_ifs_cache_map_is_one_row_of_fields() {
    check(
        r#"{"stats":[{"devid":2,"node":1,"key":"node.ifs.cache","time":1700000004,"error":null,"error_code":0,
            "value":{"l1_data_read_hit":1200,"l1_data_read_start":1500,"l2_data_read_hit":80,"l2_data_read_start":300}}]}"#,
        "node.ifs.cache @1700000004
         cluster=c1,devid=2,node=1 | l1_data_read_hit=1200.0,l1_data_read_start=1500.0,l2_data_read_hit=80.0,l2_data_read_start=300.0",
    );
}

#[test]
fn per_client_nested_list_multiplies_the_row() {
    check(
        r#"{"stats":[{"devid":3,"node":3,"key":"node.clientstats.proto.nfs","time":1700000005,"error":null,"error_code":0,
            "value":[
              {"local_addr":"10.0.0.13","protocol":"nfs3","remote_addr":"10.1.2.3","total_ops":12,
               "class_stats":[{"class_name":"read","op_count":7,"time_avg":120},
                              {"class_name":"write","op_count":5,"time_avg":340}]},
              {"local_addr":"10.0.0.13","protocol":"nfs3","remote_addr":"10.1.2.4","total_ops":1,
               "class_stats":[{"class_name":"other","op_count":1,"time_avg":15}]}]}]}"#,
        "node.clientstats.proto.nfs @1700000005
         cluster=c1,devid=3,node=3,local_addr=10.0.0.13,protocol=nfs3,remote_addr=10.1.2.3,class_name=read | total_ops=12.0,op_count=7.0,time_avg=120.0
         cluster=c1,devid=3,node=3,local_addr=10.0.0.13,protocol=nfs3,remote_addr=10.1.2.3,class_name=write | total_ops=12.0,op_count=5.0,time_avg=340.0
         cluster=c1,devid=3,node=3,local_addr=10.0.0.13,protocol=nfs3,remote_addr=10.1.2.4,class_name=other | total_ops=1.0,op_count=1.0,time_avg=15.0",
    );
}

#[test]
fn nested_map_merges_into_its_parent_row() {
    check(
        r#"{"stats":[{"devid":0,"key":"cluster.example.nested","time":1700000006,"error":null,"error_code":0,
            "value":{"name":"pool1","usage":{"free":10,"kind":"ssd","used":90}}}]}"#,
        "cluster.example.nested @1700000006
         cluster=c1,name=pool1,kind=ssd | free=10.0,used=90.0",
    );
}

#[test]
fn empty_nested_list_leaves_no_row() {
    check(
        r#"{"stats":[{"devid":0,"key":"node.clientstats.proto.nfs","time":1700000006,"error":null,"error_code":0,
            "value":[{"remote_addr":"10.1.2.3","total_ops":0,"class_stats":[]}]}]}"#,
        "",
    );
}

#[test]
fn booleans_become_float_fields_and_nulls_are_skipped() {
    check(
        r#"{"stats":[
            {"devid":0,"key":"cluster.example.flags","time":1700000007,"error":null,"error_code":0,
             "value":{"enabled":true,"failed":false,"missing":null,"count":2}},
            {"devid":0,"key":"cluster.example.flag","time":1700000007,"error":null,"error_code":0,"value":true}]}"#,
        "cluster.example.flags @1700000007
         cluster=c1 | count=2.0,enabled=1.0,failed=0.0
         cluster.example.flag @1700000007
         cluster=c1 | value=1.0",
    );
}

#[test]
fn time_inside_a_value_is_never_a_field() {
    check(
        r#"{"stats":[{"devid":0,"key":"cluster.example.timed","time":1700000008,"error":null,"error_code":0,
            "value":[{"op_name":"read","op_count":4,"time":1699999999}]}]}"#,
        "cluster.example.timed @1700000008
         cluster=c1,op_name=read | op_count=4.0",
    );
}

#[test]
fn string_value_is_unusable_but_the_batch_survives() {
    check(
        r#"{"stats":[
            {"devid":0,"key":"cluster.health.text","time":1700000009,"value":"OK","error":null,"error_code":0},
            {"devid":0,"key":"cluster.health","time":1700000009,"value":0,"error":null,"error_code":0}]}"#,
        r#"cluster.health @1700000009
           cluster=c1 | value=0.0
           Unusable { key: "cluster.health.text", devid: 0, why: "value is a string (\"OK\"), not a number" }"#,
    );
}

#[test]
fn values_without_numbers_are_unusable() {
    check(
        r#"{"stats":[
            {"devid":0,"key":"cluster.a","time":1,"value":null,"error":null,"error_code":0},
            {"devid":0,"key":"cluster.b","time":1,"value":{"name":"x"},"error":null,"error_code":0},
            {"devid":0,"key":"cluster.c","time":1,"value":["x","y"],"error":null,"error_code":0},
            {"devid":6,"key":"node.d","value":1,"error":null,"error_code":0}]}"#,
        r#"Unusable { key: "cluster.a", devid: 0, why: "value is null" }
           Unusable { key: "cluster.b", devid: 0, why: "value holds no numbers" }
           Unusable { key: "cluster.c", devid: 0, why: "a list holds a string (\"x\") with no name" }
           Unusable { key: "node.d", devid: 6, why: "entry has no time" }"#,
    );
}

#[test]
fn unavailable_codes_are_reported_once_per_key() {
    check(
        r#"{"stats":[
            {"devid":1,"node":1,"key":"node.a","time":1,"value":null,"error":"not present","error_code":1},
            {"devid":2,"node":2,"key":"node.a","time":1,"value":null,"error":"not present","error_code":1},
            {"devid":0,"key":"cluster.b","time":1,"value":null,"error":"not implemented","error_code":2},
            {"devid":0,"key":"cluster.c","time":1,"value":null,"error":"not configured","error_code":9},
            {"devid":0,"key":"cluster.d","time":1,"value":null,"error":"no data","error_code":10}]}"#,
        r#"Unavailable { key: "node.a", code: 1, error: "not present" }
           Unavailable { key: "cluster.b", code: 2, error: "not implemented" }
           Unavailable { key: "cluster.c", code: 9, error: "not configured" }
           Unavailable { key: "cluster.d", code: 10, error: "no data" }"#,
    );
}

#[test]
fn transient_codes_skip_this_time() {
    check(
        r#"{"stats":[
            {"devid":1,"node":1,"key":"node.a","time":1,"value":3,"error":"stale","error_code":4},
            {"devid":0,"key":"cluster.b","time":1,"value":null,"error":"connection timeout","error_code":5},
            {"devid":0,"key":"cluster.c","time":1,"value":null,"error":"timeout","error_code":6},
            {"devid":0,"key":"cluster.d","time":1,"value":null,"error":"no history","error_code":7},
            {"devid":0,"key":"cluster.e","time":1,"value":null,"error":null,"error_code":8}]}"#,
        r#"Skipped { key: "node.a", devid: 1, code: 4, error: "stale" }
           Skipped { key: "cluster.b", devid: 0, code: 5, error: "connection timeout" }
           Skipped { key: "cluster.c", devid: 0, code: 6, error: "timeout" }
           Skipped { key: "cluster.d", devid: 0, code: 7, error: "no history" }
           Skipped { key: "cluster.e", devid: 0, code: 8, error: "" }"#,
    );
}

#[test]
fn unknown_code_is_reported_and_skipped() {
    check(
        r#"{"stats":[{"devid":0,"key":"cluster.a","time":1,"value":5,"error":"what","error_code":42}]}"#,
        r#"UnknownCode { key: "cluster.a", devid: 0, code: 42, error: "what" }"#,
    );
}

const DEGRADED: &str = r#"{"stats":[
    {"devid":0,"key":"cluster.cpu.user.avg","time":1700000010,"value":12,"error":"degraded","error_code":3},
    {"devid":2,"node":1,"key":"node.load.1min","time":1700000010,"value":0.5,"error":null,"error_code":0}]}"#;

#[test]
fn degraded_value_is_kept_without_a_tag_by_default() {
    check(
        DEGRADED,
        "cluster.cpu.user.avg @1700000010
         cluster=c1 | value=12.0
         node.load.1min @1700000010
         cluster=c1,devid=2,node=1 | value=0.5",
    );
}

#[test]
fn include_degraded_tags_every_point_last() {
    check_with(
        true,
        DEGRADED,
        "cluster.cpu.user.avg @1700000010
         cluster=c1,degraded=true | value=12.0
         node.load.1min @1700000010
         cluster=c1,devid=2,node=1,degraded=false | value=0.5",
    );
}

#[test]
fn keys_seen_lists_every_key_errors_included() {
    let body = r#"{"stats":[
            {"devid":0,"key":"cluster.a","time":1,"value":5,"error":null,"error_code":0},
            {"devid":0,"key":"cluster.b","time":1,"value":null,"error":"no data","error_code":10},
            {"devid":0,"key":"cluster.c","time":1,"value":"x","error":null,"error_code":0}]}"#;
    let keys = current(body.as_bytes(), &opts(false)).unwrap().keys_seen;
    assert_eq!(
        keys.into_iter().collect::<Vec<_>>(),
        ["cluster.a", "cluster.b", "cluster.c"]
    );
}

#[test]
fn keys_seen_stays_empty_unless_asked_for() {
    let body = r#"{"stats":[{"devid":0,"key":"cluster.a","time":1,"value":5,"error":null,"error_code":0}]}"#;
    let options = Options {
        keys_seen: false,
        ..opts(false)
    };
    let decoded = current(body.as_bytes(), &options).unwrap();
    assert_eq!(decoded.points.len(), 1);
    assert!(decoded.keys_seen.is_empty());
}

#[test]
fn errors_object_is_a_decode_error_with_onefs_messages() {
    assert_eq!(
        decode_error(
            r#"{"errors":[{"code":"AEC_BAD_REQUEST","message":"Invalid key: cluster.nope"},
                          {"code":"AEC_FORBIDDEN","message":"Privilege check failed"}]}"#
        ),
        "onefs answered with errors: Invalid key: cluster.nope (AEC_BAD_REQUEST); \
         Privilege check failed (AEC_FORBIDDEN)"
    );
}

#[test]
fn garbage_bodies_are_decode_errors() {
    assert_eq!(
        decode_error("[1,2]"),
        "answer is an array, not a json object"
    );
    assert_eq!(
        decode_error(r#""oops""#),
        "answer is a string, not a json object"
    );
    assert_eq!(
        decode_error(r#"{"stat":[]}"#),
        r#"answer has no "stats" array"#
    );
    assert_eq!(
        decode_error(r#"{"stats":{}}"#),
        r#"answer has no "stats" array"#
    );
}

#[test]
fn malformed_entries_are_unusable_and_the_rest_survive() {
    check(
        r#"{"stats":[7,{"devid":0,"time":1,"value":1},{"key":"cluster.x","time":1,"value":1},
            {"devid":0,"key":"cluster.y","time":1,"value":1,"error_code":"bad"},
            {"devid":0,"key":"cluster.z","time":1,"value":1}]}"#,
        r#"cluster.z @1
           cluster=c1 | value=1.0
           Unusable { key: "", devid: 0, why: "entry is a number, not an object" }
           Unusable { key: "", devid: 0, why: "entry has no key" }
           Unusable { key: "cluster.x", devid: 0, why: "entry has no integer devid" }
           Unusable { key: "cluster.y", devid: 0, why: "error_code \"bad\" is not an integer" }"#,
    );
}

#[test]
fn summary_protocol_rows_are_points_with_the_listed_tags_and_fields() {
    check_summary(
        SummaryKind::Protocol,
        r#"{"protocol":[
            {"class":"read","in":0.0,"in_avg":0,"in_max":0,"in_min":0,"in_standard_dev":0,"node":2,
             "operation":"read","operation_count":40,"operation_rate":8.0,"out":131072.5,"out_avg":16384,
             "out_max":65536,"out_min":512,"out_standard_dev":100.25,"protocol":"nfs3","time":1700000020,
             "time_avg":250.5,"time_max":900,"time_min":40,"time_standard_dev":12.5},
            {"class":"write","in":10,"in_avg":1,"in_max":2,"in_min":0,"in_standard_dev":0.5,"node":null,
             "operation":"write","operation_count":1,"operation_rate":0.2,"out":0,"out_avg":0,"out_max":0,
             "out_min":0,"out_standard_dev":0,"protocol":"smb2","time":1700000021,"time_avg":1,"time_max":1,
             "time_min":1,"time_standard_dev":0}]}"#,
        "node.summary.protocol @1700000020
         cluster=c1,node=2,class=read,operation=read,protocol=nfs3 | in=0.0,in_avg=0.0,in_max=0.0,in_min=0.0,in_standard_dev=0.0,operation_count=40.0,operation_rate=8.0,out=131072.5,out_avg=16384.0,out_max=65536.0,out_min=512.0,out_standard_dev=100.25,time_avg=250.5,time_max=900.0,time_min=40.0,time_standard_dev=12.5
         node.summary.protocol @1700000021
         cluster=c1,class=write,operation=write,protocol=smb2 | in=10.0,in_avg=1.0,in_max=2.0,in_min=0.0,in_standard_dev=0.5,operation_count=1.0,operation_rate=0.2,out=0.0,out_avg=0.0,out_max=0.0,out_min=0.0,out_standard_dev=0.0,time_avg=1.0,time_max=1.0,time_min=1.0,time_standard_dev=0.0",
    );
}

#[test]
fn summary_client_rows_tag_the_user() {
    check_summary(
        SummaryKind::Client,
        r#"{"client":[
            {"class":"read","in":0,"in_avg":0,"in_max":0,"in_min":0,"local_addr":"10.0.0.11",
             "local_name":"node1.example","node":1,"num_operations":9,"operation_rate":1.8,"out":2048,
             "out_avg":227.5,"out_max":512,"out_min":0,"protocol":"smb2","remote_addr":"10.1.2.3",
             "remote_name":"ws12.example","time":1700000030,"time_avg":77.25,"time_max":300,"time_min":10,
             "user":{"id":"UID:2001","name":"alice","type":"user"}},
            {"class":"other","in":1,"in_avg":1,"in_max":1,"in_min":1,"local_addr":"10.0.0.12",
             "local_name":"","node":2,"num_operations":1,"operation_rate":0.2,"out":1,"out_avg":1,
             "out_max":1,"out_min":1,"protocol":"nfs3","remote_addr":"10.1.2.4","remote_name":"",
             "time":1700000031,"time_avg":5,"time_max":5,"time_min":5}]}"#,
        "node.summary.client @1700000030
         cluster=c1,node=1,class=read,local_addr=10.0.0.11,local_name=node1.example,protocol=smb2,remote_addr=10.1.2.3,remote_name=ws12.example,user_id=UID:2001,user_name=alice,user_type=user | in=0.0,in_avg=0.0,in_max=0.0,in_min=0.0,num_operations=9.0,operation_rate=1.8,out=2048.0,out_avg=227.5,out_max=512.0,out_min=0.0,time_avg=77.25,time_max=300.0,time_min=10.0
         node.summary.client @1700000031
         cluster=c1,node=2,class=other,local_addr=10.0.0.12,local_name=,protocol=nfs3,remote_addr=10.1.2.4,remote_name= | in=1.0,in_avg=1.0,in_max=1.0,in_min=1.0,num_operations=1.0,operation_rate=0.2,out=1.0,out_avg=1.0,out_max=1.0,out_min=1.0,time_avg=5.0,time_max=5.0,time_min=5.0",
    );
}

#[test]
fn summary_drive_rows_tag_drive_id_and_type() {
    check_summary(
        SummaryKind::Drive,
        r#"{"drive":[{"access_latency":1.25,"access_slow":0,"busy":12.5,"bytes_in":409600,"bytes_out":8192,
            "drive_id":"1:bay3","iosched_latency":0.5,"iosched_queue":0.1,"time":1700000040,"type":"SSD",
            "used_bytes_percent":41.5,"used_inodes":123456,"xfer_size_in":32768,"xfer_size_out":8192,
            "xfers_in":12.5,"xfers_out":1}]}"#,
        "node.summary.drive @1700000040
         cluster=c1,drive_id=1:bay3,type=SSD | access_latency=1.25,access_slow=0.0,busy=12.5,bytes_in=409600.0,bytes_out=8192.0,iosched_latency=0.5,iosched_queue=0.1,used_bytes_percent=41.5,used_inodes=123456.0,xfer_size_in=32768.0,xfer_size_out=8192.0,xfers_in=12.5,xfers_out=1.0",
    );
}

#[test]
fn summary_rows_without_time_or_numbers_are_unusable() {
    check_summary(
        SummaryKind::Drive,
        r#"{"drive":[{"drive_id":"1:bay1","busy":3},{"drive_id":"1:bay2","time":5},"x"]}"#,
        r#"Unusable { key: "node.summary.drive", devid: 0, why: "row 0: no time" }
           Unusable { key: "node.summary.drive", devid: 0, why: "row 1: no numeric fields" }
           Unusable { key: "node.summary.drive", devid: 0, why: "row 2: a string, not an object" }"#,
    );
}

#[test]
fn summary_errors_and_garbage_are_decode_errors() {
    let err = |kind, body: &str| {
        summary(kind, body.as_bytes(), &opts(false))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(
            SummaryKind::Client,
            r#"{"errors":[{"code":"AEC_EXCEPTION","message":"Internal error"}]}"#
        ),
        "onefs answered with errors: Internal error (AEC_EXCEPTION)"
    );
    assert_eq!(
        err(SummaryKind::Client, r#"{"protocol":[]}"#),
        r#"answer has no "client" array"#
    );
    assert_eq!(
        err(SummaryKind::Drive, "null"),
        "answer is null, not a json object"
    );
}

#[test]
fn summary_kinds_name_their_measurement_path_and_answer_key() {
    let kinds = [
        SummaryKind::Protocol,
        SummaryKind::Client,
        SummaryKind::Drive,
    ];
    let table: Vec<_> = kinds
        .iter()
        .map(|k| (k.measurement(), k.path(), k.answer_key()))
        .collect();
    assert_eq!(
        table,
        [
            (
                "node.summary.protocol",
                "/platform/3/statistics/summary/protocol?degraded=true",
                "protocol"
            ),
            (
                "node.summary.client",
                "/platform/3/statistics/summary/client?degraded=true",
                "client"
            ),
            (
                "node.summary.drive",
                "/platform/3/statistics/summary/drive?degraded=true",
                "drive"
            ),
        ]
    );
}

#[test]
fn map_keys_are_taken_alphabetically_whatever_the_answer_order() {
    check(
        r#"{"stats":[{"value":{"z":1,"b":2,"op_name":"read","a":{"y":3,"c":"t"}},
            "time":7,"key":"node.x","devid":2,"node":1}]}"#,
        "node.x @7
         cluster=c1,devid=2,node=1,c=t,op_name=read | y=3.0,b=2.0,z=1.0",
    );
}

#[test]
fn repeated_keys_keep_the_last_value() {
    check(
        r#"{"stats":[{"devid":0,"key":"cluster.x","time":1,"time":2,
            "value":{"a":1,"a":5,"t":"x","t":"y"}}]}"#,
        "cluster.x @2
         cluster=c1,t=y | a=5.0",
    );
    check(
        r#"{"stats":[{"devid":0,"key":"cluster.x","time":1,"value":1}],
            "stats":[{"devid":0,"key":"cluster.y","time":1,"value":2}]}"#,
        "cluster.y @1
         cluster=c1 | value=2.0",
    );
}

#[test]
fn escaped_strings_become_tags_like_plain_ones() {
    check(
        r#"{"stats":[{"devid":0,"key":"cluster.\u0078","time":1,
            "value":[{"class_name":"a\"b","op_rate":1}]}]}"#,
        r#"cluster.x @1
           cluster=c1,class_name=a"b | op_rate=1.0"#,
    );
}

#[test]
fn a_body_that_is_not_json_is_a_decode_error_naming_the_place() {
    let err = current(br#"{"stats":[{"key":"a""#, &opts(false)).unwrap_err();
    assert!(matches!(err, DecodeError::NotJson(_)), "{err:?}");
    assert!(err.to_string().contains("column"), "{err}");
    let err = current(br#"{"stats":[]} trailing"#, &opts(false)).unwrap_err();
    assert!(matches!(err, DecodeError::NotJson(_)), "{err:?}");
    let err = summary(SummaryKind::Drive, b"<html>", &opts(false)).unwrap_err();
    assert!(matches!(err, DecodeError::NotJson(_)), "{err:?}");
}

#[test]
fn summary_rows_read_repeated_and_wrongly_typed_members_like_a_map() {
    check_summary(
        SummaryKind::Client,
        r#"{"client":[{"time":5,"user":{"id":1,"name":"a"},"user":{"name":"b"},
            "in":"x","out":1,"out":2,"node":[1]}]}"#,
        "node.summary.client @5
         cluster=c1,user_name=b | out=2.0",
    );
}

#[test]
fn summary_field_tables_are_sorted_for_binary_search() {
    for kind in [
        SummaryKind::Protocol,
        SummaryKind::Client,
        SummaryKind::Drive,
    ] {
        let fields = kind.fields();
        assert!(fields.windows(2).all(|w| w[0] < w[1]), "{kind:?}");
        assert!(fields.len() <= summary::MAX_FIELDS && kind.tags().len() <= summary::MAX_TAGS);
    }
}
