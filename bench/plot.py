"""The scale report as a PNG (matplotlib: the bench extra only).

    python -m bench.plot bench/results/<time>-scale-report.json   (writes the .png beside it)
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")  # no display: write files only
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

_PLAIN = FuncFormatter(lambda value, _: f"{value:,g}")


def plot_scale_report(points, png_path):
    scales = [p["addons"] for p in points]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    panels = (
        (axes[0][0], "Index load (s)", True,
         [("full load", [p["index"]["load_seconds"] for p in points])]),
        (axes[0][1], "Memory (MiB)", True,
         [("index alone", [p["index"]["index_mib"] for p in points]),
          ("vamo serve RSS", [p["serve"]["vamo"]["rss_mib"] for p in points]),
          ("--workers 2, PSS of all", [p["workers_2"]["pss_total_mib"] for p in points])]),
        (axes[1][0], "Refresh (ms)", True,
         [("nothing changed", [p["index"]["refresh_idle"]["seconds"] * 1000 for p in points]),
          ("100 add-ons changed", [p["index"]["refresh_100"]["seconds"] * 1000 for p in points]),
          ("1,000 add-ons changed", [p["index"]["refresh_1000"]["seconds"] * 1000 for p in points])]),
        (axes[1][1], "Requests per second (1 core)", False,
         [("cache on", [p["serve"]["vamo"]["req_per_s"] for p in points]),
          ("cache off", [p["serve"]["vamo-uncached"]["req_per_s"] for p in points])]),
    )
    for ax, title, log_y, series in panels:
        for label, values in series:
            ax.plot(scales, values, marker="o", label=label)
        ax.set_xscale("log")
        if log_y:
            ax.set_yscale("log")
            ax.yaxis.set_minor_formatter(NullFormatter())
        else:
            ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(_PLAIN)
        ax.set_title(title)
        ax.set_xlabel("add-ons")
        ax.set_xticks(scales, [f"{s:,}" for s in scales])
        ax.grid(True, which="both", alpha=0.3)
        ax.margins(y=0.3)  # room for the legend above and below the lines
        ax.legend(fontsize="small")
    fig.suptitle("vamo: costs by number of add-ons")
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return png_path


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        document = json.load(f)
    print(plot_scale_report(document["points"], sys.argv[1].removesuffix(".json") + ".png"))
