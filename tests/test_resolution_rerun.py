"""Reruns of a quarter keep every person_id, ID-less new persons included (never alternating
between two ids from one rerun to the next)."""

from matchers import warehouse
from test_resolution import background, con, load, resolved, row, valid_id  # noqa: F401 (fixture)


def test_id_less_new_persons_keep_their_id_over_repeated_reruns(con):
    # An ID-less 王丽 among three namesakes of the district stays a person of her own: on a rerun
    # her earlier self is just as ambiguous a candidate as the others.
    namesakes = [
        row("assistance", 10 + i, "王丽", id_norm=valid_id("420115", f"19{60 + i}-02-0{i + 1}", f"{i:03d}"))
        for i in range(3)
    ]
    rows = background() + namesakes + [
        row("medical", 1, "端木蓉", id_kind="none", district="新洲区"),
        row("housing", 1, "王丽", id_kind="none", district="江夏区"),
    ]
    load(con, rows)
    runs = []
    for _ in range(4):
        df = resolved(con)
        runs.append(df.select("source", "source_row", "person_id").sort("source", "source_row").rows())
        warehouse.publish_quarter(con, "2026Q3")
    assert runs[1] == runs[0] and runs[2] == runs[0] and runs[3] == runs[0]
    n_persons = con.execute("SELECT count(*) FROM persons").fetchall()[0][0]
    assert n_persons == len({p for _, _, p in runs[0]})
