"""Install s4t_mm. The pinned OpenMMLab stack, including the mmcv build with
CPU ops, is installed by ``bash tools/install.sh``; see README.

As MMSegmentation's ``add_mim_extension()``, the package carries the
repository's ``configs/``, ``tools/`` and ``model-index.yml`` under
``s4t_mm/.mim/``, which is what ``_base_ = ['s4t_mm::...']`` and
``python -m s4t_mm.tools.test_time_adapt`` read: copies inside a wheel,
symlinks to the checkout in an editable install. Unlike mmseg's, a wheel
build copies them into its build directory, never into the checkout, so
an editable install's links stay links.
"""
import os
import os.path as osp
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.develop import develop

HERE = osp.dirname(osp.abspath(__file__))
MIM_FILES = ('configs', 'tools', 'model-index.yml')


def read_requirements(name):
    path = osp.join(HERE, 'requirements', name)
    with open(path) as f:
        return [
            line.split('#')[0].strip() for line in f
            if line.split('#')[0].strip() and not line.startswith('-r')
        ]


def read_version():
    scope = {}
    with open(osp.join(HERE, 's4t_mm', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def add_mim_extension(package_dir, mode):
    """Put ``MIM_FILES`` into ``package_dir/.mim``: ``'copy'`` (a wheel) or
    ``'symlink'`` (editable, relative links into the checkout)."""
    mim_dir = osp.join(package_dir, '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in MIM_FILES:
        src, dst = osp.join(HERE, name), osp.join(mim_dir, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_dir), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns(
                '__pycache__', '*.py[cod]'))
        else:
            shutil.copyfile(src, dst)


class BuildPyWithMim(build_py):
    """``build_py`` that adds the ``.mim`` files to the build (the wheel),
    or links them into the checkout for an editable install."""

    def run(self):
        if self.editable_mode:
            super().run()
            add_mim_extension(osp.join(HERE, 's4t_mm'), 'symlink')
            return
        # build/ outlives builds: a module deleted since must not ship
        shutil.rmtree(osp.join(self.build_lib, 's4t_mm'), ignore_errors=True)
        super().run()
        add_mim_extension(osp.join(self.build_lib, 's4t_mm'), 'copy')


class DevelopWithMim(develop):
    """Legacy ``setup.py develop`` editable installs link them too."""

    def run(self):
        super().run()
        add_mim_extension(osp.join(HERE, 's4t_mm'), 'symlink')


setup(
    name='s4t_mm',
    version=read_version(),
    description='Multi-task test-time training (S4T) on the OpenMMLab stack',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=('s4t_mm', 's4t_mm.*')),
    cmdclass=dict(build_py=BuildPyWithMim, develop=DevelopWithMim),
    python_requires='>=3.9',
    install_requires=read_requirements('runtime.txt') +
    read_requirements('mmcv.txt'),
    extras_require=dict(
        tests=read_requirements('tests.txt'),
        optional=read_requirements('optional.txt'),
    ),
    license='Apache-2.0',
    zip_safe=False,
)
