"""Build minigrad: Python packages plus the Cython tape engine (minigrad_kernels/_tape.pyx)."""
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

extensions = cythonize(
    [Extension("minigrad_kernels._tape", ["minigrad_kernels/_tape.pyx"], extra_compile_args=["-O3"])],
    compiler_directives={"language_level": "3"},
)

setup(
    name="minigrad",
    version="0.1.0",
    description="A small, fast, PyTorch-shaped deep-learning framework: autograd tape, Numba kernels",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["minigrad", "minigrad.*", "minigrad_kernels", "minigrad_kernels.*"]),
    ext_modules=extensions,
    python_requires=">=3.10",
    install_requires=["numpy>=2.0,<3", "numba>=0.61,<0.69", "scipy>=1.10", "safetensors>=0.4", "pooch>=1.8", "tqdm>=4.60",
                      "threadpoolctl>=3.1"],
    extras_require={
        "test": ["pytest>=8", "hypothesis>=6.100", "graphviz>=0.20"],
        "digits": ["scikit-learn>=1.3"],
        "plot": ["matplotlib>=3.7"],
        # minigrad.viz's pictures of the tape; rendering them also needs Graphviz's dot program (apt-get install graphviz)
        "viz": ["graphviz>=0.20"],
        # the CUDA backend, for a real GPU: numba-cuda with NVIDIA's CUDA 12 compiler and runtime wheels. CPU
        # users need none of it; Numba's simulator (NUMBA_ENABLE_CUDASIM=1) needs numba-cuda alone, or numba's
        # own numba.cuda (numba 0.61-0.68 ship one)
        "cuda": ["numba-cuda[cu12]>=0.30,<1"],
        # minigrad.distributed: MPI through mpi4py, with MPICH as a wheel (mpiexec lands in the environment's bin/)
        "mpi": ["mpi4py>=4.0", "mpich>=4.1"],
    },
    zip_safe=False,
)
