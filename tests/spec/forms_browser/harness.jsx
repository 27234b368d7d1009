// Renders window.MIQ_FORM (miqspec form output) with data-driven-forms and its Carbon mapper,
// as ManageIQ's provider form does, then writes a JSON report into <pre id="report">: per
// select, the value it shows and the value the form holds, and the errors after a submit.
import React, { useEffect } from 'react';
import ReactDOM from 'react-dom';
// package roots only: one copy of the renderer's context for the mapper and the harness
import { FormRenderer, useFormApi } from '@data-driven-forms/react-form-renderer';
import { componentMapper, FormTemplate } from '@data-driven-forms/carbon-component-mapper';

const report = (data) => {
  document.getElementById('report').textContent = JSON.stringify(data);
};

// ManageIQ's own components, reduced to what matters here: the validate component renders
// its fields, the password field is a text field.
const ValidateCredentials = ({ fields }) => {
  const { renderForm } = useFormApi();
  return <div className="validate-provider-credentials">{renderForm(fields)}</div>;
};
const mapper = {
  ...componentMapper,
  'validate-provider-credentials': ValidateCredentials,
  'password-field': componentMapper['text-field'],
};

const Reporter = () => {
  const form = useFormApi();
  useEffect(() => {
    setTimeout(() => {
      form.submit();
      setTimeout(() => {
        const selects = Array.from(document.querySelectorAll('select')).map((el) => {
          const state = form.getFieldState(el.id) || {};
          return { name: el.id, shown: el.value, value: state.value === undefined ? null : state.value,
                   error: state.error || null, options: el.options.length };
        });
        report({ selects, errors: form.getState().errors || {} });
      }, 200);
    }, 200);
  }, []);
  return null;
};

const Template = (props) => (<><FormTemplate {...props} /><Reporter /></>);

class Boundary extends React.Component {
  constructor(props) { super(props); this.state = { error: null }; }
  static getDerivedStateFromError(error) { return { error }; }
  componentDidCatch(error) { report({ renderError: String(error && error.message || error) }); }
  render() { return this.state.error ? null : this.props.children; }
}

ReactDOM.render(
  <Boundary>
    <FormRenderer schema={window.MIQ_FORM} componentMapper={mapper} FormTemplate={Template}
                  onSubmit={() => {}} />
  </Boundary>,
  document.getElementById('root'),
);
