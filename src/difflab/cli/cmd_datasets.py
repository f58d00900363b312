"""List the datasets and every option each one takes (read from the data registry's loaders).

Set them in a config or on the command line as data.name=NAME data.options.KEY=VALUE, e.g.

  difflab train configs/digits.yaml data.name=npy data.options.path=mydata/ring.npy --out runs/ring
  difflab train configs/digits.yaml data.name=folder data.options.path=mydata/shapes --out runs/shapes

A new data.name drops the options the config gave its old dataset.
"""

HELP = "datasets: difflab datasets (every dataset and its data.options)"


def add_arguments(p):
    p.add_argument("name", nargs="?", default=None, help="one dataset (default: all)")


def run(args):
    from difflab.cli.common import _plain, datasets_summary
    from difflab.data.registry import check_dataset_name, describe_dataset

    if args.name is None:
        print(datasets_summary(verbose=True))
        return
    d = describe_dataset(check_dataset_name(args.name))
    print(f"{d['name']}: {_plain(d['summary'])}")
    for o in d["options"]:
        default = "required" if o["required"] else f"default {o['default']}"
        print(f"    data.options.{o['name']} ({default}): {_plain(o['help'])}")
