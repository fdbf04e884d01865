# DataFrames in the frame format (protocol.md section 11) through the real
# kmq CLI and kernel: download --format frame to a .kmqf, convert to csv and
# json, upload a .kmqf, refusals that name the column, and lying frames from
# a client, from the kernel's own code and from files.
source "$(dirname "$0")/lib.sh"
start_broker || exit 1
CODEC="$(cd "$(dirname "$0")/../common" && pwd)"

# The same DataFrame, built in the kernel and here.
BUILD='
import numpy as np, pandas as pd
df = pd.DataFrame({
    "i": np.array([1, -2, 3], dtype="int32"),
    "f": [0.1, np.nan, float("inf")],
    "b": [True, False, True],
    "s": ["a,\"b", None, "é"],
    "t": pd.to_datetime(["2024-03-01 12:00", None, "2024-03-01 12:00:00.5"]),
    "z": pd.to_datetime(["2024-03-01", None, "2024-07-01"]).tz_localize("Europe/Paris"),
    "d": pd.to_timedelta([1.5, None, -60], unit="s"),
    "c": pd.Categorical(["x", None, "y"]),
    "n": pd.array([7, None, 9], dtype="Int64"),
    "S": pd.array(["p", None, "q"], dtype="string"),
}, index=pd.Index(["r1", "r2", "r3"], name="row"))
'
# py CODE...: Debian's python with the codec importable.
py() { PYTHONPATH="$CODEC" /usr/bin/python3 "$@"; }

run_kmq exec -s fr "$BUILD"
expect_eq "the frame's DataFrame is built in the kernel" "0:" "$RC:$OUT"
run_kmq download -s fr df --format frame -o "$T/df.kmqf"
expect_eq "download --format frame exits 0" "0:" "$RC:$ERR"
expect_eq "the .kmqf's first frame is the 5 bytes KMQF1" "00000000000000054b4d514631" \
    "$(head -c 17 "$T/df.kmqf" | tail -c 13 | od -An -tx1 | tr -d ' \n')"
same=$(py -c "$BUILD"'
import sys, kmq_frame
back = kmq_frame.from_kmqf(open(sys.argv[1], "rb").read())
pd.testing.assert_frame_equal(back, df)
print("same", list(back.dtypes) == list(df.dtypes))' "$T/df.kmqf" 2>&1)
expect_eq "the client's decoder gets the kernel's DataFrame back, dtypes and all" \
    "same True" "$same"

run_kmq convert "$T/df.kmqf"
expect_eq "convert writes csv: index first, ISO times, empty missing values" \
"0:row,i,f,b,s,t,z,d,c,n,S
r1,1,0.1,True,\"a,\"\"b\",2024-03-01T12:00:00,2024-02-29T23:00:00Z,P0DT0H0M1.5S,x,7,p
r2,-2,,False,,,,,,,
r3,3,inf,True,é,2024-03-01T12:00:00.5,2024-06-30T22:00:00Z,-P0DT0H1M0S,y,9,q" "$RC:$OUT"
run_kmq convert "$T/df.kmqf" --to json -o "$T/df.json"
records=$(/usr/bin/python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))
print(len(r), r[0]["row"], r[0]["s"], r[1]["f"], r[1]["n"], r[2]["f"], r[2]["b"], r[2]["z"])' \
    "$T/df.json" 2>&1)
expect_eq "convert --to json writes records, null for missing and infinite" \
    "0:3 r1 a,\"b None None None True 2024-06-30T22:00:00Z" "$RC:$records"

run_kmq upload -s fr back "$T/df.kmqf"
expect_eq "upload of a .kmqf (format from the suffix)" \
    "0:back: DataFrame, 3 rows x 10 columns" "$RC:${OUT% (*}"
run_kmq exec -s fr 'back.equals(df), list(back.dtypes) == list(df.dtypes), back.index.name'
expect_eq "the uploaded DataFrame equals the original, dtypes and index" \
    "0:(True, True, 'row')" "$RC:$OUT"

# A million rows, written here, uploaded, downloaded, read back.
py -c '
import sys, numpy as np, pandas as pd, kmq_frame
n = np.arange(1_000_000)
df = pd.DataFrame({"n": n, "x": n / 4, "s": (n % 97).astype(str),
                   "c": pd.Categorical.from_codes(n % 3, ["a", "b", "c"])})
open(sys.argv[1], "wb").write(kmq_frame.to_kmqf(df))' "$T/big.kmqf"
run_kmq upload -s fr big "$T/big.kmqf" --format frame
expect_eq "a million rows upload" "0:big: DataFrame, 1000000 rows x 4 columns" "$RC:${OUT% (*}"
run_kmq exec -s fr 'int(big["n"].sum()), float(big["x"].sum()), big["s"].iloc[-1], str(big["c"].dtype)'
expect_eq "... and arrive intact" "0:(499999500000, 124999875000.0, '26', 'category')" "$RC:$OUT"
run_kmq download -s fr big --format frame -o "$T/big2.kmqf"
check "... and come back byte for byte the same buffers" py -c '
import sys, kmq_frame
a = kmq_frame.read_kmqf(open(sys.argv[1], "rb").read())
b = kmq_frame.read_kmqf(open(sys.argv[2], "rb").read())
sys.exit(not (a[0] == b[0] and [bytes(x) for x in a[1]] == [bytes(x) for x in b[1]]))' \
    "$T/big.kmqf" "$T/big2.kmqf"

# What the format can't carry is refused, naming the column and csv.
kmq exec -s fr 'mixed = pd.DataFrame({"ok": [1, 2], "m": ["a", 1]})
numbered = pd.DataFrame([[1, 2]])
wide = pd.DataFrame(np.zeros((1, 5000)), columns=["c%d" % i for i in range(5000)])
x = 41
ser = pd.Series([1.5, 2.5], name="price")' > /dev/null
run_kmq download -s fr mixed --format frame -o "$T/m.kmqf"
expect_eq "a mixed object column is refused (exit 3)" 3 "$RC"
expect_contains "... naming the column" "column 'm'" "$ERR"
expect_contains "... and suggesting csv" "or use csv" "$ERR"
check "... and no file is written" test ! -e "$T/m.kmqf"
run_kmq download -s fr numbered --format frame -o "$T/n.kmqf"
expect_contains "non-str column names are refused, naming the column" \
    "column 0 (a int) has no str name" "$ERR"
run_kmq download -s fr wide --format frame -o "$T/w.kmqf"
expect_contains "more than 4096 buffers is TOO_LARGE with the count and csv" \
    "TOO_LARGE: wide needs 5000 buffers, more than the 4096 payload frames" "$ERR"
run_kmq download -s fr x --format frame -o "$T/x.kmqf"
expect_contains "a non-DataFrame is refused" "x is a int: frame needs a DataFrame or Series" "$ERR"
run_kmq download -s fr ser --format frame -o "$T/ser.kmqf"
kmq convert "$T/ser.kmqf" > "$T/ser.csv" 2>&1
expect_eq "a Series downloads as a one-column frame named after it" \
    $'price\n1.5\n2.5' "$(cat "$T/ser.csv")"

# Lying frames from a client: refused by libkmq before anything is sent,
# and by the kernel when a raw client sends them anyway.
head -c 300 "$T/df.kmqf" > "$T/cut.kmqf"
run_kmq upload -s fr cut "$T/cut.kmqf"
expect_eq "a truncated .kmqf is refused by kmq (exit 3)" 3 "$RC"
expect_contains "... as not a whole .kmqf" ".kmqf:" "$ERR"
raw=$(py - "$ENDPOINT" <<'EOF' 2>&1
import sys, zmq, msgpack, struct
sock = zmq.Context().socket(zmq.DEALER)
sys.path.insert(0, "client/python")
from kernelmq import _keys          # CURVE on tcp, the test's keys
_keys.apply(sock, sys.argv[1])
sock.connect(sys.argv[1])
def ask(header, payloads):
    sock.send_multipart([b"KMQ1", msgpack.packb(header)] + payloads)
    while sock.poll(20000):
        frames = sock.recv_multipart()
        reply = msgpack.unpackb(frames[1])
        if reply.get("type") == "reply" and reply.get("id") == header["id"]:
            return reply
    return {"message": "no reply"}
frame = {"rows": 3, "index": {"kind": "range", "start": 0, "stop": 3, "step": 1},
         "columns": [{"name": "v", "kind": "numeric", "dtype": "int64"}]}
upload = {"type": "upload", "session": "fr", "name": "evil", "format": "frame"}
print(ask(dict(upload, id=1, frame=frame), [b"\0" * 23]).get("message"))
frame["columns"][0] = {"name": "w", "kind": "string", "dtype": "object"}
print(ask(dict(upload, id=2, frame=frame),
          [struct.pack("<4q", 0, 9, 2, 3), b"abc"]).get("message"))
frame["columns"][0] = {"name": "p", "kind": "pickle", "dtype": "object"}
print(ask(dict(upload, id=3, frame=frame), [b"cos\nsystem\n"]).get("message"))
EOF
)
expect_contains "the kernel refuses a truncated buffer, naming the column" \
    "upload evil: column 'v': its data (buffer 0) is 23 bytes; it must be exactly 24" "$raw"
expect_contains "the kernel refuses offsets that decrease" "column 'w': its offsets decrease" "$raw"
expect_contains "the kernel refuses a kind it does not know" "column 'p': unknown kind 'pickle'" "$raw"
run_kmq exec -s fr '"evil" in dir(), len(df)'
expect_eq "the session is intact after the lying uploads" "0:(False, 3)" "$RC:$OUT"

# A lying frame from the kernel (user code can replace the encoder): the
# client refuses it before writing a byte.
kmq exec -s fr 'import kmq_frame
kmq_frame.encode = lambda df: ({"rows": 3, "index": {"kind": "range", "start": 0, "stop": 3, "step": 1},
    "columns": [{"name": "x", "kind": "categorical", "dtype": "category", "ordered": False,
                 "codes": "int8", "count": 1, "categories": {"kind": "numeric", "dtype": "int8"}}]},
    [b"\x00\x05\x00", b"\x01"])' > /dev/null
run_kmq download -s fr df --format frame -o "$T/lie.kmqf"
expect_eq "a lying frame from the kernel fails the download (exit 3)" 3 "$RC"
expect_contains "... saying the kernel sent an invalid frame, naming the column" \
    "the kernel sent an invalid frame: column 'x': code 5 of value 1 is outside [-1, 1)" "$ERR"
check "... and writes no file" test ! -e "$T/lie.kmqf"

# Files: convert refuses what is not a .kmqf, and the C reader agrees with
# the Python decoder on every mutant of a valid file.
printf 'A,B\n1,2\n' > "$T/not.kmqf"
run_kmq convert "$T/not.kmqf"
expect_eq "convert of a file that is not a .kmqf exits 2" 2 "$RC"
expect_contains "... saying why" "convert $T/not.kmqf: .kmqf:" "$ERR"
verdict=$(py - "$KMQ_BIN/kmq" "$T" <<'EOF' 2>&1
import random, subprocess, sys, numpy as np, pandas as pd, kmq_frame
kmq, tmp = sys.argv[1], sys.argv[2]
df = pd.DataFrame({"i": np.array([1, -2, 3], dtype="int16"), "f": [0.5, np.nan, 2.0],
                   "b": [True, False, True], "s": ["ab", None, "é"],
                   "c": pd.Categorical(["x", "y", None]), "u": np.arange(3, dtype="uint8"),
                   "n": pd.array([1, None, 3], dtype="Int32"),
                   "t": pd.to_datetime(["2024-01-01", None, "2024-01-02"]),
                   "d": pd.to_timedelta([1, 2, None], unit="s")},
                  index=pd.Index(["r1", "r2", "r3"]))
good = kmq_frame.to_kmqf(df)
rng = random.Random(11)
disagree, accepted, crashed = [], 0, []
for round in range(400):
    data = bytearray(good)
    if round % 5 == 4:
        data = data[:rng.randrange(len(data))]
    else:
        for _ in range(1 + round % 3):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    try:
        kmq_frame.from_kmqf(bytes(data))
        python_ok = True
    except kmq_frame.FrameError:
        python_ok = False
    path = "%s/mutant.kmqf" % tmp
    open(path, "wb").write(data)
    rc = subprocess.run([kmq, "convert", path], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL).returncode
    if rc not in (0, 2):
        crashed.append((round, rc))
    if (rc == 0) != python_ok:
        disagree.append((round, python_ok, rc))
    accepted += python_ok
print("disagree", disagree[:5], "crashed", crashed[:5], "accepted", accepted > 0)
EOF
)
expect_eq "kmq convert and the Python decoder agree on 400 mutants, never crashing" \
    "disagree [] crashed [] accepted True" "$verdict"

# A reply over max_payload is TOO_LARGE; the session keeps its state.
stop_broker
start_broker --max-payload 64K || exit 1
kmq exec -s small 'import numpy as np, pandas as pd; big = pd.DataFrame({"v": np.arange(20000)})' > /dev/null
run_kmq download -s small big --format frame -o "$T/small.kmqf"
expect_contains "a buffer over max_payload is TOO_LARGE" \
    "TOO_LARGE: payload 0 of the reply is 160000 bytes, more than the kernel's max_payload of 65536" "$ERR"
run_kmq exec -s small 'len(big)'
expect_eq "... and the session keeps its state" "0:20000" "$RC:$OUT"
