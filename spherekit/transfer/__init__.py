"""spherekit.transfer: moving bytes to and from vSphere.

- :mod:`spherekit.transfer.http`: streamed HTTP transfers on a session's transport
  (``/folder``, NFC and guest file URLs), with SHA-256 and progress;
- :mod:`spherekit.transfer.datastore`: a datastore as a blob store (ls, stat, mkdir, rm,
  upload through ``*.tmp`` and MoveDatastoreFile, download);
- :mod:`spherekit.transfer.guest`: run programs in a guest and move files in and out.

Every server-changing step goes through a :class:`~spherekit.compute.ops.Operation`
(journaled, undone on failure, with a plan form).
"""
