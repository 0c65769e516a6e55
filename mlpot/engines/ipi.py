"""Serve an mlpot model to i-PI: a force client over i-PI's socket protocol.

i-PI (the ``ipi`` package) runs path-integral and replica methods and asks
clients for the energy and forces of each bead. A client here is ASE's
``SocketClient`` driving an mlpot calculator (eager or compiled), so the
forces are those of `mlpot.MLPotCalculator`. Several clients may serve one
i-PI run; i-PI hands each a bead at a time.

::

    python -m mlpot.engines.ipi --model ethanol-equivariant --structure init.xyz \\
        --address mlpot-ethanol
"""

import argparse
import sys


def serve(calculator, structure, address: str, port=None) -> None:
    """Serve forces to i-PI until it closes the connection.

    Parameters
    ----------
    calculator : mlpot.MLPotCalculator
    structure : ase.Atoms
        The atoms i-PI moves, in its order (their elements are read from here;
        i-PI sends positions and the cell only).
    address : str
        A UNIX socket name (i-PI's ``<ffsocket mode='unix'>`` address), or a
        host name when ``port`` is given (``mode='inet'``).
    port : int, optional
    """
    from ase.calculators.socketio import SocketClient

    atoms = structure.copy()
    atoms.calc = calculator
    if port is None:
        client = SocketClient(unixsocket=address)
    else:
        client = SocketClient(host=address, port=port)
    client.run(atoms, use_stress=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlpot.engines.ipi")
    parser.add_argument("--model", required=True, help="shipped name, .ckpt or .pt2")
    parser.add_argument(
        "--structure", required=True, help="the system, any ase.io file"
    )
    parser.add_argument("--address", required=True, help="UNIX socket name or host")
    parser.add_argument("--port", type=int, help="TCP port (inet sockets)")
    parser.add_argument("--compiled", action="store_true")
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    args = parser.parse_args(argv)

    import ase.io

    from mlpot import load_calculator
    from mlpot.pretrained_models import model_path

    calculator = load_calculator(
        model_path(args.model), dtype=args.dtype, compiled=args.compiled
    )
    structure = ase.io.read(args.structure)
    structure.pbc = False
    serve(calculator, structure, args.address, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
