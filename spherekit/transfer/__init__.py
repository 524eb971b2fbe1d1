"""spherekit.transfer: moving bytes to and from vSphere.

- :mod:`spherekit.transfer.http`: streamed HTTP transfers on a session's transport
  (``/folder``, NFC and guest file URLs), with SHA-256 and progress;
- :mod:`spherekit.transfer.digest`: the hashing of every transfer (SHA-256 and a manifest's
  algorithm), in a thread beside the bytes it hashes;
- :mod:`spherekit.transfer.ova`, :mod:`~spherekit.transfer.ovf_import`,
  :mod:`~spherekit.transfer.ovf_export`, :mod:`~spherekit.transfer.lease`: OVF packages
  streamed in and out through an HttpNfcLease kept alive;
- :mod:`spherekit.transfer.datastore`: a datastore as a blob store (ls, stat, mkdir, rm,
  upload through ``*.tmp`` and MoveDatastoreFile, download);
- :mod:`spherekit.transfer.guest`: run programs in a guest and move files in and out.

Every server-changing step goes through a :class:`~spherekit.compute.ops.Operation`
(journaled, undone on failure, with a plan form).
"""
