/*  frame_write — a validated frame as CSV or JSON records (frame.h says
    what each value looks like). Everything here reads only what frame.c
    has checked: buffer sizes, offsets, codes and UTF-8, so a cell never
    reaches past its buffer and every string is valid UTF-8 already.
*/
#include "frame_internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_NANOS 1000000000

typedef enum { CELL_MISSING, CELL_NUMBER, CELL_BOOL, CELL_INF, CELL_TEXT } s_cell_kind_t;

//  One value, ready to print. text points into scratch or into the frame.
typedef struct {
    s_cell_kind_t kind;
    bool value;                     //  CELL_BOOL
    const char *text;               //  CELL_NUMBER, CELL_INF, CELL_TEXT
    size_t len;
    char scratch [80];
} s_cell_t;

//  The shortest text that reads back as the same float or double, with
//  ".0" when it would read as an integer (as Python's repr).
static void
s_float (s_cell_t *cell, double value, bool single)
{
    if (isnan (value)) {
        cell->kind = CELL_MISSING;
        return;
    }
    if (isinf (value)) {
        cell->kind = CELL_INF;
        snprintf (cell->scratch, sizeof cell->scratch, value < 0 ? "-inf" : "inf");
        return;
    }
    int last = single ? 9 : 17;
    for (int precision = single ? 6 : 15; ; precision++) {
        snprintf (cell->scratch, sizeof cell->scratch, "%.*g", precision, value);
        if (precision == last)
            break;
        if (single ? strtof (cell->scratch, NULL) == (float) value
                   : strtod (cell->scratch, NULL) == value)
            break;
    }
    if (!strpbrk (cell->scratch, ".e"))
        strcat (cell->scratch, ".0");
}

static void
s_number (s_cell_t *cell, const uint8_t *data, frame_type_t type, size_t row)
{
    switch (type) {
        case FRAME_BOOL:
            cell->kind = CELL_BOOL;
            cell->value = data [row] != 0;
            return;
        case FRAME_F32: {
            uint32_t bits = (uint32_t) frame_load_u64 (data, type, row);
            float value;
            memcpy (&value, &bits, sizeof value);
            s_float (cell, value, true);
            return;
        }
        case FRAME_F64: {
            uint64_t bits = frame_load_u64 (data, type, row);
            double value;
            memcpy (&value, &bits, sizeof value);
            s_float (cell, value, false);
            return;
        }
        case FRAME_U8: case FRAME_U16: case FRAME_U32: case FRAME_U64:
            snprintf (cell->scratch, sizeof cell->scratch, "%" PRIu64,
                      frame_load_u64 (data, type, row));
            return;
        default:
            snprintf (cell->scratch, sizeof cell->scratch, "%" PRId64,
                      frame_load_i64 (data, type, row));
    }
}

//  ".5", ".123" or ".000000001": the fraction of a second without its
//  trailing zeros; nothing when it is 0.
static void
s_fraction (char *text, size_t size, uint64_t nanos)
{
    text [0] = 0;
    if (nanos == 0)
        return;
    snprintf (text, size, ".%09" PRIu64, nanos);
    size_t len = strlen (text);
    while (text [len - 1] == '0')
        text [--len] = 0;
}

//  Nanoseconds since the epoch as ISO 8601 (proleptic Gregorian, the
//  civil-from-days algorithm of Howard Hinnant's date library).
static void
s_datetime (s_cell_t *cell, int64_t ns, bool utc)
{
    int64_t seconds = ns / S_NANOS, nanos = ns % S_NANOS;
    if (nanos < 0) {
        nanos += S_NANOS;
        seconds--;
    }
    int64_t days = seconds / 86400, of_day = seconds % 86400;
    if (of_day < 0) {
        of_day += 86400;
        days--;
    }
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned of_era = (unsigned) (days - era * 146097);
    unsigned year_of_era = (of_era - of_era / 1460 + of_era / 36524
                            - of_era / 146096) / 365;
    unsigned of_year = of_era - (365 * year_of_era + year_of_era / 4
                                 - year_of_era / 100);
    unsigned shifted = (5 * of_year + 2) / 153;
    unsigned day = of_year - (153 * shifted + 2) / 5 + 1;
    unsigned month = shifted < 10 ? shifted + 3 : shifted - 9;
    int64_t year = (int64_t) year_of_era + era * 400 + (month <= 2);
    char fraction [16];
    s_fraction (fraction, sizeof fraction, (uint64_t) nanos);
    snprintf (cell->scratch, sizeof cell->scratch,
              "%04" PRId64 "-%02u-%02uT%02u:%02u:%02u%s%s", year, month, day,
              (unsigned) (of_day / 3600), (unsigned) (of_day / 60 % 60),
              (unsigned) (of_day % 60), fraction, utc ? "Z" : "");
}

//  A duration as ISO 8601, P<days>DT<h>H<m>M<s>S, '-' in front when negative.
static void
s_timedelta (s_cell_t *cell, int64_t ns)
{
    uint64_t total = ns < 0 ? 0 - (uint64_t) ns : (uint64_t) ns;
    uint64_t seconds = total / S_NANOS;
    char fraction [16];
    s_fraction (fraction, sizeof fraction, total % S_NANOS);
    snprintf (cell->scratch, sizeof cell->scratch,
              "%sP%" PRIu64 "DT%uH%uM%u%sS", ns < 0 ? "-" : "", seconds / 86400,
              (unsigned) (seconds / 3600 % 24), (unsigned) (seconds / 60 % 60),
              (unsigned) (seconds % 60), fraction);
}

//  Value row of entry.
static void
s_cell (const frame_entry_t *entry, size_t row, s_cell_t *cell)
{
    cell->kind = CELL_NUMBER;
    cell->text = cell->scratch;
    cell->scratch [0] = 0;
    switch (entry->kind) {
        case FRAME_RANGE:
            snprintf (cell->scratch, sizeof cell->scratch, "%" PRId64,
                      (int64_t) ((uint64_t) entry->start
                                 + (uint64_t) row * (uint64_t) entry->step));
            break;
        case FRAME_NUMERIC:
        case FRAME_MASKED:
            if (!frame_entry_valid (entry, row))
                cell->kind = CELL_MISSING;
            else
                s_number (cell, entry->data, entry->type, row);
            break;
        case FRAME_DATETIME:
        case FRAME_TIMEDELTA: {
            int64_t value = frame_load_i64 (entry->data, FRAME_I64, row);
            cell->kind = value == INT64_MIN ? CELL_MISSING : CELL_TEXT;
            if (value != INT64_MIN && entry->kind == FRAME_DATETIME)
                s_datetime (cell, value, entry->tz != NULL);
            else
            if (value != INT64_MIN)
                s_timedelta (cell, value);
            break;
        }
        case FRAME_STRING: {
            cell->kind = frame_entry_valid (entry, row) ? CELL_TEXT : CELL_MISSING;
            size_t from = (size_t) frame_load_i64 (entry->offsets, FRAME_I64, row);
            cell->text = (const char *) entry->data + from;
            cell->len = (size_t) frame_load_i64 (entry->offsets, FRAME_I64, row + 1) - from;
            return;
        }
        case FRAME_CATEGORICAL: {
            int64_t code = frame_load_i64 (entry->data, entry->type, row);
            if (code < 0)
                cell->kind = CELL_MISSING;
            else
                s_cell (entry->categories, (size_t) code, cell);
            return;
        }
    }
    cell->len = strlen (cell->scratch);
}

//  --------------------------------------------------------------------------
//  CSV and JSON text

static void
s_csv_text (FILE *out, const char *text, size_t len)
{
    size_t i = 0;
    while (i < len && text [i] != ',' && text [i] != '"' && text [i] != '\n'
           && text [i] != '\r')
        i++;
    if (i == len) {
        fwrite (text, 1, len, out);
        return;
    }
    fputc ('"', out);
    for (i = 0; i < len; i++) {
        if (text [i] == '"')
            fputc ('"', out);
        fputc (text [i], out);
    }
    fputc ('"', out);
}

static void
s_json_text (FILE *out, const char *text, size_t len)
{
    fputc ('"', out);
    size_t plain = 0;               //  start of the run not written yet
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) text [i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        fwrite (text + plain, 1, i - plain, out);
        plain = i + 1;
        switch (c) {
            case '"': fputs ("\\\"", out); break;
            case '\\': fputs ("\\\\", out); break;
            case '\n': fputs ("\\n", out); break;
            case '\r': fputs ("\\r", out); break;
            case '\t': fputs ("\\t", out); break;
            case '\b': fputs ("\\b", out); break;
            case '\f': fputs ("\\f", out); break;
            default: fprintf (out, "\\u%04x", c);
        }
    }
    fwrite (text + plain, 1, len - plain, out);
    fputc ('"', out);
}

static void
s_csv_cell (FILE *out, const s_cell_t *cell)
{
    switch (cell->kind) {
        case CELL_MISSING: break;
        case CELL_BOOL: fputs (cell->value ? "True" : "False", out); break;
        case CELL_TEXT: s_csv_text (out, cell->text, cell->len); break;
        default: fwrite (cell->text, 1, cell->len, out);
    }
}

static void
s_json_cell (FILE *out, const s_cell_t *cell)
{
    switch (cell->kind) {
        case CELL_MISSING:
        case CELL_INF: fputs ("null", out); break;
        case CELL_BOOL: fputs (cell->value ? "true" : "false", out); break;
        case CELL_TEXT: s_json_text (out, cell->text, cell->len); break;
        default: fwrite (cell->text, 1, cell->len, out);
    }
}

//  --------------------------------------------------------------------------
//  Tables

//  The entries to write, in order: the index unless it is the default
//  one, then the columns. Returns how many, or -1 (errno ENOMEM).
static long
s_fields (frame_t *self, const frame_entry_t ***fields_p)
{
    const frame_entry_t *index = &self->index;
    bool with_index = !(index->kind == FRAME_RANGE && index->start == 0
                        && index->step == 1 && index->name == NULL);
    const frame_entry_t **fields = (const frame_entry_t **)
        malloc ((self->column_count + 1) * sizeof (frame_entry_t *));
    if (!fields) {
        errno = ENOMEM;
        return -1;
    }
    size_t count = 0;
    if (with_index)
        fields [count++] = index;
    for (size_t i = 0; i < self->column_count; i++)
        fields [count++] = &self->columns [i];
    *fields_p = fields;
    return (long) count;
}

static const char *
s_name (const frame_entry_t *entry, size_t *len)
{
    *len = entry->name ? entry->name_len : strlen ("index");
    return entry->name ? entry->name : "index";
}

//  One writer for both: JSON is records, CSV a header line and rows.
static int
s_write (frame_t *self, FILE *out, bool json)
{
    errno = 0;
    const frame_entry_t **fields;
    long count = s_fields (self, &fields);
    if (count < 0)
        return -1;
    for (long f = 0; f < count && !json; f++) {
        size_t len;
        const char *name = s_name (fields [f], &len);
        if (f)
            fputc (',', out);
        s_csv_text (out, name, len);
    }
    fputs (json ? "[" : "\n", out);
    s_cell_t cell;
    for (size_t row = 0; row < self->rows && !ferror (out); row++) {
        if (json)
            fputs (row ? ",{" : "{", out);
        for (long f = 0; f < count; f++) {
            if (f)
                fputc (',', out);
            if (json) {
                size_t len;
                const char *name = s_name (fields [f], &len);
                s_json_text (out, name, len);
                fputc (':', out);
            }
            s_cell (fields [f], row, &cell);
            if (json)
                s_json_cell (out, &cell);
            else
                s_csv_cell (out, &cell);
        }
        fputs (json ? "}" : "\n", out);
    }
    if (json)
        fputs ("]\n", out);
    free (fields);
    if (fflush (out) == 0 && !ferror (out))
        return 0;
    if (!errno)
        errno = EIO;
    return -1;
}

int
frame_write_csv (frame_t *self, FILE *out)
{
    assert (self);
    assert (out);
    return s_write (self, out, false);
}

int
frame_write_json (frame_t *self, FILE *out)
{
    assert (self);
    assert (out);
    return s_write (self, out, true);
}
