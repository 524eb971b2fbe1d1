"""spherekit: a typed, explicit, fast toolkit for VMware vSphere."""
