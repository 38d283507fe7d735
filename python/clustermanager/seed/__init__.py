"""The seed's API (aioclustermanager 0.3.x) on clustermanager: its module paths behind the
``clustermanager.seed`` prefix. Port a seed program by changing its imports::

    from clustermanager.seed.k8s import K8SContextManager        # aioclustermanager.k8s
    from clustermanager.seed.nomad import NomadContextManager    # aioclustermanager.nomad
    from clustermanager.seed.manager import ClusterManager       # aioclustermanager.manager
"""

from .k8s import K8SContextManager, create_k8s_caller
from .manager import ClusterManager
from .nomad import NomadContextManager, create_nomad_caller

__all__ = ["K8SContextManager", "NomadContextManager", "ClusterManager", "create_k8s_caller", "create_nomad_caller"]
