/* Dataset readers (include/pare/dataset.h): the same table as TSV, CSV and
 * JSONL gives the same texts and labels; CSV quoting (commas, "", line
 * breaks, CRLF); JSONL values (strings with escapes, integers, booleans);
 * single-label classes; and a clear error for each kind of bad input. */
#include "testutil.h"
#include "pare/dataset.h"

#include <string.h>

static void check_table(const pare_dataset *d) {
    assert_int_equal(d->n, 3);
    assert_int_equal(d->n_labels, 2);
    assert_true(d->multi_label);
    assert_string_equal(d->label_names[0], "joy");
    assert_string_equal(d->label_names[1], "anger");
    assert_string_equal(d->texts[0], "so happy today");
    assert_string_equal(d->texts[1], "not, \"fine\"");
    assert_string_equal(d->texts[2], "two\nlines");
    const uint8_t want[6] = {1, 0, 0, 1, 1, 1};
    assert_memory_equal(d->labels, want, 6);
}

static void test_formats_agree(void **state) {
    (void)state;
    static const char tsv[] = "ID\tTweet\tjoy\tanger\n1\tso happy today\t1\t0\n2\tnot, \"fine\"\t0\t1\n";
    static const char csv[] = "ID,Tweet,joy,anger\r\n1,so happy today,1,0\r\n\r\n2,\"not, \"\"fine\"\"\",0,1\n"
                              "3,\"two\nlines\",1,1";
    static const char jsonl[] = "{\"ID\": 1, \"Tweet\": \"so happy today\", \"joy\": 1, \"anger\": false}\n\n"
                                "{\"anger\": 1, \"Tweet\": \"not, \\\"fine\\\"\", \"ID\": 2, \"joy\": 0}\n"
                                "{\"ID\": 3, \"Tweet\": \"two\\nlines\", \"joy\": true, \"anger\": 1, \"extra\": [1]}\n";
    pare_err err = {0};
    pare_dataset d;
    /* TSV cannot hold the line break: its third row is the JSONL/CSV one */
    tu_assert_ok(pare_dataset_parse("t.tsv", tsv, strlen(tsv), PARE_DATA_TSV, NULL, &d, &err), &err);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.texts[1], "not, \"fine\"");
    pare_dataset_free(&d);
    tu_assert_ok(pare_dataset_parse("t.csv", csv, strlen(csv), PARE_DATA_CSV, NULL, &d, &err), &err);
    check_table(&d);
    pare_dataset_free(&d);
    tu_assert_ok(pare_dataset_parse("t.jsonl", jsonl, strlen(jsonl), PARE_DATA_JSONL, NULL, &d, &err), &err);
    check_table(&d);
    pare_dataset_free(&d);
    assert_int_equal(pare_data_format_of("a/b.CSV"), PARE_DATA_CSV);
    assert_int_equal(pare_data_format_of("x.ndjson"), PARE_DATA_JSONL);
    assert_int_equal(pare_data_format_of("2018-E-c-En-train.txt"), PARE_DATA_TSV);
    assert_int_equal(pare_data_format_of("dir.csv/data"), PARE_DATA_TSV);
}

static void test_single_label(void **state) {
    (void)state;
    static const char jsonl[] = "{\"text\": \"caf\\u00e9 open\", \"label\": \"pos\"}\n{\"text\": \"closed\", \"label\": \"neg\"}\n"
                                "{\"text\": \"ok\", \"label\": \"pos\"}\n";
    static const char csv[] = "text,label\nyes,2\nno,0\nmaybe,2\n";
    pare_dataset_opts o = {.text_column = "text", .single_label = true};
    pare_err err = {0};
    pare_dataset d;
    tu_assert_ok(pare_dataset_parse("s.jsonl", jsonl, strlen(jsonl), PARE_DATA_JSONL, &o, &d, &err), &err);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.n_labels, 2);
    assert_string_equal(d.texts[0], "caf\xc3\xa9 open");
    assert_string_equal(d.label_names[1], "neg");
    const uint8_t want[6] = {1, 0, 0, 1, 1, 0};
    assert_memory_equal(d.labels, want, 6);
    pare_dataset_free(&d);
    tu_assert_ok(pare_dataset_parse("s.csv", csv, strlen(csv), PARE_DATA_CSV, &o, &d, &err), &err);
    assert_int_equal(d.n_labels, 2);
    assert_string_equal(d.label_names[0], "2");
    pare_dataset_free(&d);
}

static void test_errors(void **state) {
    (void)state;
    static const struct { pare_data_format fmt; const char *data, *want; } cases[] = {
        {PARE_DATA_CSV, "Tweet,joy\n\"open,1\n", "x:2: a quoted field is not closed"},
        {PARE_DATA_CSV, "Tweet,joy\n\"a\"b,1\n", "x:2: 'b' after a closing quote"},
        {PARE_DATA_CSV, "Tweet,joy\na\"b,1\n", "x:2: a quote inside an unquoted field"},
        {PARE_DATA_CSV, "Tweet,joy\na,1,2\n", "x:2: 3 fields, the header has 2"},
        {PARE_DATA_CSV, "Tweet,joy\na,yes\n", "x:2: label column 'joy' holds 'yes', expected 0 or 1"},
        {PARE_DATA_CSV, "", "x: empty file, expected a header row"},
        {PARE_DATA_CSV, "text,joy\na,1\n", "x: no column named 'Tweet' in the header row"},
        {PARE_DATA_CSV, "Tweet\na\n", "x: no label columns besides 'Tweet'"},
        {PARE_DATA_CSV, "Tweet,joy\n", "x: no data rows"},
        {PARE_DATA_JSONL, "{\"Tweet\": \"a\", \"joy\": 1}\n[1, 2]\n", "x:2: expected one JSON object per line"},
        {PARE_DATA_JSONL, "{\"Tweet\": \"a\", \"joy\": 1}\n{\"Tweet\": \"b\"}\n", "x:2: no field 'joy' (the first line has it)"},
        {PARE_DATA_JSONL, "{\"Tweet\": \"a\", \"joy\": 0.5}\n", "x:1: field 'joy' is not text, an integer or true/false"},
        {PARE_DATA_JSONL, "{\"Tweet\": \"a\", \"joy\": null}\n", "x:1: field 'joy' is not text"},
        {PARE_DATA_JSONL, "{\"Tweet\": \"a\", \"joy\": 1", "x:1: expected one JSON object per line"},
        {PARE_DATA_JSONL, "\n\n", "x: empty file, expected JSON objects"},
        {PARE_DATA_JSONL, "{\"text\": \"a\", \"joy\": 1}\n", "x: no column named 'Tweet' in the first object"},
        {PARE_DATA_TSV, "Tweet\tjoy\na\t2\n", "x:2: label column 'joy' holds '2', expected 0 or 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pare_err err = {0};
        pare_dataset d;
        assert_int_not_equal(pare_dataset_parse("x", cases[i].data, strlen(cases[i].data), cases[i].fmt, NULL, &d, &err), PARE_OK);
        if (!strstr(err.msg, cases[i].want)) fail_msg("case %zu: '%s' does not contain '%s'", i, err.msg, cases[i].want);
        assert_null(d.texts);
    }
    pare_err err = {0};
    pare_dataset d;
    assert_int_not_equal(pare_dataset_parse("x", "Tweet,joy\na\0,1\n", 15, PARE_DATA_CSV, NULL, &d, &err), PARE_OK);
    assert_non_null(strstr(err.msg, "x: contains NUL bytes; expected UTF-8 CSV text"));
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_formats_agree), cmocka_unit_test(test_single_label),
                                       cmocka_unit_test(test_errors)};
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
