//! TEMPORARY: stands in for `tessera_core::Cutter` until it lands.
use tessera_core::{Org, Policy, Scope, ScopeError, Timestamp, ValidationErrors};

#[derive(Debug)]
pub struct Cutter {
    org: Org,
    policy: Policy,
}

impl Cutter {
    pub fn new(org: Org) -> Result<Cutter, ValidationErrors> {
        let policy = Policy::new(&org)?;
        Ok(Cutter { org, policy })
    }
    pub fn org(&self) -> &Org {
        &self.org
    }
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
    pub fn cut(&self, scope: &Scope, now: Timestamp) -> Result<Org, ScopeError> {
        tessera_core::cut(&self.org, scope, now)
    }
}
