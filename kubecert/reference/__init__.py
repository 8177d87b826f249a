"""The reference implementation: a platform that passes every rule, and the faults that make each one fail.

``kubecert.reference.pki`` makes a control-plane node's /etc/kubernetes tree exactly as kubeadm does and
lists its expiry as ``kubeadm certs check-expiration`` does; ``kubecert.reference.cli`` adds the
``kubecert reference ...`` commands.
"""
