"""Install s4t_mm. The pinned OpenMMLab stack, including the mmcv build with
CPU ops, is installed by ``bash tools/install.sh``; see README."""
import os.path as osp

from setuptools import find_packages, setup


def read_requirements(name):
    path = osp.join(osp.dirname(__file__), 'requirements', name)
    with open(path) as f:
        return [
            line.split('#')[0].strip() for line in f
            if line.split('#')[0].strip() and not line.startswith('-r')
        ]


def read_version():
    scope = {}
    with open(osp.join('s4t_mm', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='s4t_mm',
    version=read_version(),
    description='Multi-task test-time training (S4T) on the OpenMMLab stack',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'bench')),
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
